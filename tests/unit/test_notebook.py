"""The notebook API (trainlens.notebook): tiny real tables in the documented layout
(results/<scale>/<paper>/tables/*.parquet, claims.tsv; docs/design.md "Tables"), the config join,
a figure redrawn through a registered figure function, and the one-line errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import trainlens
from trainlens.experiments.typed import ConfigError
from trainlens.tables import TABLES, write_table

PAPER = "toy2020"
FIGURES_PY = '''
import matplotlib.pyplot as plt
from trainlens.plotting import FigureSet

figures = FigureSet("toy2020")


@figures.figure("figR01_loss", "Toy loss per run.", ("e1",))
def loss(inputs):
    fig, ax = plt.subplots()
    for run_id, rows in inputs.metrics.groupby("run_id"):
        ax.plot(rows["step"], rows["value"], label=run_id)
    return fig
'''


def _runs() -> pd.DataFrame:
    """Three runs: two of e1 at different learning rates, one of e2."""
    return pd.DataFrame({
        "run_id": ["a", "b", "c"], "paper": PAPER, "experiment": ["e1", "e1", "e2"],
        "group_id": ["g1", "g1", "g2"], "seed": [0, 1, 0], "status": "ok",
        "diverged_step": np.nan, "wall_time_s": 1.0, "device": "cpu", "git_commit": "x",
        "train_lr": [0.1, 0.01, 0.1], "data_frequency": [0.25, 0.25, 0.5]})


def _metrics() -> pd.DataFrame:
    """Run a: loss 3, 2, 1 at steps 0..2; run b: 5, 4 at steps 0..1; run c: 9 at step 0."""
    rows = [("a", 0, 3.0), ("a", 1, 2.0), ("a", 2, 1.0), ("b", 0, 5.0), ("b", 1, 4.0),
            ("c", 0, 9.0)]
    return pd.DataFrame({"run_id": [r[0] for r in rows], "step": [r[1] for r in rows],
                         "epoch": [float(r[1]) for r in rows], "split": "train",
                         "metric": "loss", "value": [r[2] for r in rows]})


def _claims() -> pd.DataFrame:
    row = {c: "" for c, kind in TABLES["claims"].items() if kind == "text"}
    return pd.DataFrame([{**row, "paper": PAPER, "claim_id": "C1", "passed": "PASS",
                          "value": "rho=0.9", "n_runs": 3},
                         {**row, "paper": PAPER, "claim_id": "C2", "passed": "",
                          "reason": "paper scale only", "n_runs": 0}])


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A workflow folder with one paper and its smoke tables (no regions table)."""
    (tmp_path / "Snakefile").write_text("")
    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "config.yaml").write_text("scale: smoke\n")
    (tmp_path / "experiments" / f"{PAPER}.yaml").write_text(f"paper: {PAPER}\nexperiments: {{}}\n")
    (tmp_path / "analysis" / PAPER).mkdir(parents=True)
    (tmp_path / "analysis" / PAPER / "figures.py").write_text(textwrap.dedent(FIGURES_PY))
    folder = tmp_path / "results" / "smoke" / PAPER
    write_table(_runs(), folder / "tables" / "runs.parquet", "runs")
    write_table(_metrics(), folder / "tables" / "metrics.parquet", "metrics")
    write_table(_claims(), folder / "claims.tsv", "claims")
    return tmp_path


def test_metrics_carry_their_runs_config(repo: Path) -> None:
    r = trainlens.results(PAPER, scale="smoke", root=repo)
    assert len(r.metrics) == 6 and len(r.runs) == 3
    # by hand: run a has lr 0.1 (losses 3, 2, 1), run c too (9); run b has lr 0.01 (5, 4)
    assert sorted(r.metrics.query("train_lr == 0.1")["value"]) == [1.0, 2.0, 3.0, 9.0]
    assert sorted(r.metrics.query("train_lr == 0.01")["value"]) == [4.0, 5.0]
    high = r.metrics[r.metrics["data_frequency"] == 0.5]
    assert list(high["run_id"]) == ["c"] and list(high["experiment"]) == ["e2"]
    assert list(r.metrics.columns[:6]) == list(TABLES["metrics"])  # its own columns first
    assert r.regions is None  # this build has no regions table


def test_claims_read_as_written(repo: Path) -> None:
    claims = trainlens.results(PAPER, root=repo).claims
    assert list(claims["claim_id"]) == ["C1", "C2"]
    assert list(claims["passed"]) == ["PASS", ""]  # an empty verdict stays empty, not NaN
    assert claims.loc[1, "reason"] == "paper scale only"


def test_repository_found_from_a_folder_inside_it(repo: Path, monkeypatch) -> None:
    monkeypatch.chdir(repo / "analysis" / PAPER)
    assert trainlens.results(PAPER).root == repo.resolve()


def test_figure_redrawn_without_writing(repo: Path) -> None:
    before = sorted(p for p in repo.rglob("*") if "__pycache__" not in p.parts)
    r = trainlens.results(PAPER, root=repo)
    assert r.figures == ["figR01_loss"]
    fig = r.figure("figR01_loss")
    (ax,) = fig.axes
    # the runs of e1 only (a and b), their own values
    assert sorted(line.get_label() for line in ax.lines) == ["a", "b"]
    assert [list(line.get_ydata()) for line in ax.lines] == [[3.0, 2.0, 1.0], [5.0, 4.0]]
    assert fig._suptitle.get_text() == "toy2020 · figR01 · reconstruction · smoke scale"
    assert fig.number not in plt.get_fignums()  # closed in pyplot: a notebook shows it once
    assert sorted(p for p in repo.rglob("*") if "__pycache__" not in p.parts) == before


def test_unknown_figure_lists_the_known_ones(repo: Path) -> None:
    with pytest.raises(ConfigError, match="'figR99_x' unknown; known: figR01_loss$"):
        trainlens.results(PAPER, root=repo).figure("figR99_x")


def test_missing_table_names_the_file_and_the_command(repo: Path) -> None:
    (repo / "results" / "smoke" / PAPER / "tables" / "metrics.parquet").unlink()
    with pytest.raises(FileNotFoundError) as error:
        trainlens.results(PAPER, root=repo)
    message = str(error.value)
    assert "\n" not in message
    assert str(repo / "results" / "smoke" / PAPER / "tables" / "metrics.parquet") in message
    assert message.endswith(f"snakemake --cores 2 figures/smoke/{PAPER}/REPORT.md "
                            "--config scale=smoke")
    with pytest.raises(FileNotFoundError, match="figures/cpu-slice/toy2020/REPORT.md --config "
                                                "scale=cpu slice=True$"):
        trainlens.results(PAPER, scale="cpu", root=repo, tiny_slice=True)


@pytest.mark.parametrize(("args", "pattern"), [
    (("nope", "smoke"), r"^paper 'nope' unknown; allowed: toy2020$"),
    ((PAPER, "huge"), r"^scale 'huge' unknown; allowed: smoke, cpu, paper$"),
])
def test_unknown_paper_or_scale_lists_the_allowed(repo: Path, args, pattern) -> None:
    with pytest.raises(ConfigError, match=pattern):
        trainlens.results(args[0], scale=args[1], root=repo)


def test_outside_a_repository(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not inside a trainlens repository.*pass root=$"):
        trainlens.results(PAPER, root=tmp_path)


def test_import_stays_light() -> None:
    """``import trainlens`` and ``trainlens.results`` import neither torch nor (for the
    package alone) pandas; the check sees what it looks for (trainlens.probes imports torch)."""
    code = ("import sys, trainlens; light = 'pandas' not in sys.modules; trainlens.results; "
            "import trainlens.notebook; {extra}"
            "print(light, any(m.split('.')[0] == 'torch' for m in sys.modules))")
    for extra, expected in (("", "True False"), ("import trainlens.probes.stiffness; ",
                                                 "True True")):
        done = subprocess.run([sys.executable, "-c", code.format(extra=extra)],
                              capture_output=True, text=True, check=True)
        assert done.stdout.strip() == expected
