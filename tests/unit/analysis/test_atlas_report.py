"""The atlas REPORT.md on synthetic atlas tables (tests/atlas_tables.py): every section is there,
no verdict is, and its numbers equal ρ computed here with scipy and the intervals of the stats
module's bootstrap called here on the same runs (analysis/atlas/report.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from atlas_tables import synthetic_tables  # tests/ is on sys.path via conftest.py
from scipy.stats import spearmanr

from trainlens.cli import load_module, main

REPO = Path(__file__).resolve().parents[3]
ATLAS = REPO / "analysis" / "atlas"
REPORT = load_module(ATLAS / "report.py")
STATS = load_module(ATLAS / "stats.py")
TABLE = load_module(ATLAS / "table.py")
WORDS = load_module(ATLAS / "words.py")
STEMS = ("figX01_rank_correlations", "figX02_measures_vs_gap", "figX03_trajectories_low_high")


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    runs, metrics = synthetic_tables()
    out = tmp_path_factory.mktemp("atlas") / "REPORT.md"
    pngs = [out.parent / f"{stem}.png" for stem in STEMS[:2]]  # figX03 not built
    REPORT.write_atlas_report(runs, metrics, "smoke", pngs, out)
    return runs, TABLE.atlas_table(runs, metrics), out.read_text()


def test_sections_and_no_verdicts(written):
    runs, _, text = written
    for heading in ("# atlas: the complexity atlas (suite study) · smoke scale", "## What ran",
                    "## Which measure best predicts the generalization gap",
                    "## Agreements between measures",
                    "## Where two papers' measures disagree in sign", "## Figures"):
        assert heading in text
    assert "**suite study**" in text and "no PASS/FAIL, no threshold" in text
    assert "| PASS" not in text and "| FAIL" not in text
    assert "![figX01_rank_correlations](figX01_rank_correlations.png)" in text
    assert "(not built)" in text  # figX03 has no PNG
    assert "`mnist_cnn-diverged` (mnist_cnn, width, seed 1): diverged at step 30" in text
    ok = (runs[runs["experiment"] == "mnist_cnn"]["status"] == "ok").sum()
    assert f"| MNIST 4 vs 9, CNN (`mnist_cnn`) | learning rate (`train.lr`: 0.01, 0.1); width " \
           f"(`model.width`: 16, 64) | 0, 1 | {ok} | 1 |" in text


def _final(atlas, setting: str, measure: str) -> np.ndarray:
    """The final-checkpoint values per ok run of ``setting``, from the atlas table."""
    rows = atlas[(atlas["setting"] == setting) & (atlas["step"] == 200)]
    return rows.pivot(index="run_id", columns="measure", values="value")[measure]


def _measures(atlas, setting: str) -> list[str]:
    """The measures (not outcomes) of ``setting``, in the atlas order."""
    present = set(atlas.loc[atlas["setting"] == setting, "measure"])
    return [m for m in STATS.PAPERS if m in present]


@pytest.mark.parametrize("setting,measure", [("sinusoid_mlp", "gc"), ("mnist_mlp", "tau"),
                                             ("mnist_cnn", "pr_w")])
def test_ranking_rows_equal_independent_statistics(written, setting, measure):
    _, atlas, text = written
    x, gap = _final(atlas, setting, measure), _final(atlas, setting, "gen_gap")
    rho = spearmanr(x, gap).statistic
    low, high = STATS.bootstrap_interval(x.to_numpy(), gap.to_numpy())
    section = text.split(f"### {WORDS.setting(setting)}: generalization gap")[1]
    (row,) = [line for line in section.split("###")[0].splitlines() if f"(`{measure}`)" in line]
    assert f"| {rho:+.2f} [{low:+.2f}, {high:+.2f}] | {len(x)} |" in row
    # its rank: the measures with a larger |ρ| (over the runs where both are defined), plus one
    others = [abs(spearmanr(_final(atlas, setting, m), gap, nan_policy="omit").statistic)
              for m in _measures(atlas, setting) if m != measure]
    assert row.startswith(f"| {1 + sum(o > abs(rho) + 1e-12 for o in others)} |")


def test_strongest_agreement_equals_the_largest_oriented_rho(written):
    """The strongest agreement is the pair whose scipy ρ, times the two measures' readings (+1
    complexity, −1 smoothness: fort2019's stiffness Δ and ξ), is largest."""
    _, atlas, text = written
    setting = "mnist_mlp"
    measures = _measures(atlas, setting)
    smoothness = {"stiffness_cos_delta", "stiffness_sign_delta", "xi"}
    pairs = {(a, b): spearmanr(_final(atlas, setting, a),
                               _final(atlas, setting, b), nan_policy="omit").statistic
             for i, a in enumerate(measures) for b in measures[i + 1:]}
    oriented = {pair: rho * (-1) ** len(smoothness & set(pair)) for pair, rho in pairs.items()}
    (a, b) = max(oriented, key=oriented.get)
    rho = pairs[(a, b)]
    section = text.split("## Agreements between measures")[1].split(
        f"### {WORDS.setting(setting)}")[1]
    first = section.split("Strongest 3 (largest ρ·o_a·o_b):")[1].strip().splitlines()[0]
    assert first.startswith(f"1. {WORDS.measure_text(a)} (`{a}`")
    assert f"(`{b}`" in first and f"ρ = {rho:+.2f} [" in first


def test_cli_atlas_report(tmp_path):
    runs, metrics = synthetic_tables()
    runs.to_parquet(tmp_path / "runs.parquet")
    metrics.to_parquet(tmp_path / "metrics.parquet")
    out = tmp_path / "REPORT.md"
    assert main(["atlas-report", "--report-module", str(ATLAS / "report.py"), "--runs",
                 str(tmp_path / "runs.parquet"), "--metrics", str(tmp_path / "metrics.parquet"),
                 "--scale", "smoke", "--pngs", str(tmp_path / "figX01_rank_correlations.png"),
                 "--out", str(out)]) == 0
    assert "## What ran" in out.read_text()
