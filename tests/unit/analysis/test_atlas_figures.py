"""Every atlas figure drawn from synthetic atlas tables (tests/atlas_tables.py) as `trainlens
plot` draws it (trainlens.plotting.draw_figure) passes the figure checks (trainlens.figure_checks):
no silent empty axes, labels in words, no legend header rows, a title naming atlas and the scale;
each is a suite extension whose caption says it is a suite study."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from atlas_tables import synthetic_tables  # noqa: E402  (tests/ is on sys.path via conftest.py)

from trainlens.cli import load_module  # noqa: E402
from trainlens.figure_checks import figure_problems  # noqa: E402
from trainlens.plotting import draw_figure  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
FIGURES = load_module(REPO / "analysis" / "atlas" / "figures.py").figures
STEMS = ("figX01_rank_correlations", "figX02_measures_vs_gap", "figX03_trajectories_low_high")


@pytest.fixture(scope="module")
def tables():
    return synthetic_tables()


def test_three_suite_figures_registered():
    assert tuple(FIGURES.figures) == STEMS
    for spec in FIGURES.figures.values():
        assert spec.kind == "suite extension"
        assert "suite study" in spec.full_caption and "not a figure of" in spec.full_caption


@pytest.mark.parametrize("stem", STEMS)
def test_figure_can_be_cited(tables, stem):
    runs, metrics = tables
    fig = draw_figure(FIGURES.figures[stem], runs, metrics, "smoke")
    problems = figure_problems(fig, "atlas", "smoke")
    assert problems == [], "\n".join(problems)
    assert len(fig.axes) >= 3
    plt.close(fig)


def test_figures_with_one_setting_missing_a_measure(tables):
    """A setting that lacks a measure says so on its panel: far-field λ in the two MNIST
    settings, stiffness Δ (cosine, sign) and ξ in the sinusoid setting: 2 + 3 panels."""
    runs, metrics = tables
    fig = draw_figure(FIGURES.figures["figX02_measures_vs_gap"], runs, metrics, "smoke")
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert sum("not defined for this setting" in t for t in texts) == 2 + 3
    plt.close(fig)


def test_low_high_runs_by_final_gap(tables):
    runs, metrics = tables
    atlas = load_module(REPO / "analysis" / "atlas" / "table.py").atlas_table(runs, metrics)
    final = atlas[(atlas["step"] == 200) & (atlas["measure"] == "gen_gap")]
    chosen = load_module(REPO / "analysis" / "atlas" / "figures.py").low_high_runs(
        atlas[atlas["step"] == 200])
    for setting, rows in final.groupby("setting"):
        assert chosen[setting] == (rows.loc[rows["value"].idxmin(), "run_id"],
                                   rows.loc[rows["value"].idxmax(), "run_id"])
