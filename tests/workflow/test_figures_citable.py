"""Every figure of the smoke build can be cited on its own: redrawn from the build's tables through
the figures registry (as ``trainlens plot`` draws it), no axes is empty without saying why, no
label or legend entry is a raw snake_case column name, no legend has seaborn header rows, and the
title names the paper and the scale (trainlens.figure_checks; unit tests of the checks are in
tests/unit/test_figure_checks.py)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from trainlens.cli import load_module  # noqa: E402
from trainlens.figure_checks import figure_problems  # noqa: E402
from trainlens.plotting import FigureInputs, use_style  # noqa: E402
from trainlens.tables import read_table  # noqa: E402

# the papers and the suite study (the atlas), every one built by the smoke build
PAPERS = ("loukas2021", "dherin2022", "fort2019", "nakazato2024", "atlas")
# snake_case words a label may hold, each with its reason (none needed today: labels are words,
# symbols are mathtext such as $t_w$)
ALLOWED: dict[str, str] = {}


def figure_problems_of_paper(root: Path, paper: str, scale: str = "smoke") -> list[str]:
    """Redraw every registered figure of ``paper`` from ``root``'s tables, as
    ``trainlens.cli.cmd_plot`` does (runs of the figure's experiments, their metrics, the
    regions table), and list what each figure gets wrong."""
    tables = root / "results" / scale / paper / "tables"
    all_runs = read_table(tables / "runs.parquet", "runs")
    metrics = read_table(tables / "metrics.parquet", "metrics")
    regions = read_table(tables / "regions.parquet", "regions")
    figure_set = load_module(root / "analysis" / paper / "figures.py").figures
    problems = []
    for stem, spec in figure_set.figures.items():
        runs = all_runs[all_runs["experiment"].isin(spec.experiments)]
        use_style()
        fig = spec.draw(FigureInputs(runs, metrics[metrics["run_id"].isin(runs["run_id"])],
                                     scale, {"regions": regions}))
        problems += [f"{paper}/{stem}: {problem}"
                     for problem in dict.fromkeys(figure_problems(fig, paper, scale, ALLOWED))]
        plt.close(fig)
    return problems


@pytest.mark.slow
@pytest.mark.parametrize("paper", PAPERS)
def test_every_smoke_figure_can_be_cited(smoke_build, paper):
    root, done = smoke_build
    assert done.returncode == 0, done.stderr[-3000:]
    problems = figure_problems_of_paper(root, paper)
    assert problems == [], "\n".join(problems)
