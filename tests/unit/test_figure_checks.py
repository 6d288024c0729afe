"""A figure can be cited on its own: trainlens.figure_checks on hand-made matplotlib figures, and
the registry's visible title (paper, figure, title, what it regenerates, scale) placed above every
axes. The check on every figure of a smoke build is tests/workflow/test_figures_citable.py."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from PIL import Image  # noqa: E402

from trainlens.cli import load_module  # noqa: E402
from trainlens.figure_checks import (  # noqa: E402
    draws_data,
    figure_problems,
    legend_header_rows,
    silent_empty_axes,
    snake_case_labels,
    title_problems,
)
from trainlens.plotting import FigureInputs, FigureSet, save_figure  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
PAPERS = ("loukas2021", "dherin2022", "fort2019", "nakazato2024")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_an_empty_axes_fails():
    fig, ax = plt.subplots()
    assert not draws_data(ax)
    assert len(silent_empty_axes(fig)) == 1


def test_an_axes_with_a_line_passes():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    assert draws_data(ax) and silent_empty_axes(fig) == []


def test_an_empty_axes_that_says_why_passes():
    fig, ax = plt.subplots()
    ax.text(0.5, 0.5, "every ξ censored", transform=ax.transAxes)
    assert not draws_data(ax) and silent_empty_axes(fig) == []


def test_reference_lines_spans_and_nan_lines_are_not_data():
    """fort2019 figR05 before the fix: lines of NaN only; axhline/axvspan are decoration."""
    fig, ax = plt.subplots()
    ax.plot([1, 2], [np.nan, np.nan], "o-", label="lr 0.001 (censored 8/8)")
    ax.axhline(0)
    ax.axvspan(0.2, 0.4)
    ax.legend()
    ax.set_title("digits FC")
    assert not draws_data(ax) and len(silent_empty_axes(fig)) == 1


@pytest.mark.parametrize("draw", [
    lambda ax: ax.scatter([1], [2]),
    lambda ax: ax.fill_between([0, 1], [0, 0], [1, 1]),
    lambda ax: ax.bar([0, 1], [2, 3]),
    lambda ax: ax.imshow(np.eye(3)),
    lambda ax: sns.heatmap(np.eye(3), ax=ax, cbar=False),
    lambda ax: ax.plot([1, 2], [np.nan, 3.0]),  # one finite point is data
])
def test_every_kind_of_mark_counts_as_data(draw):
    fig, ax = plt.subplots()
    draw(ax)
    assert draws_data(ax)


def test_an_empty_twin_of_a_drawing_axes_passes_but_a_lone_empty_panel_fails():
    fig, (left, right) = plt.subplots(1, 2)
    left.plot([0, 1], [0, 1])
    left.twinx()  # a second y axis, drawn on in some figures only
    assert [problem.split(" ")[1] for problem in silent_empty_axes(fig)] == ["1"]  # right


def test_snake_case_labels_are_found_outside_mathtext_and_allow_listed_words_pass():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1], label="t_w=100")
    ax.set(xlabel="final PR_W", ylabel="geometric_complexity", title="$t_c$ (step)")
    ax.legend()
    found = snake_case_labels(fig)
    assert len(found) == 2 and "geometric_complexity" in found[0] and "t_w" in found[1]
    assert snake_case_labels(fig, allowed={"geometric_complexity", "t_w"}) == []


def test_seaborn_hue_and_style_header_rows_are_found_explicit_handles_pass():
    frame = pd.DataFrame({"x": [1, 2, 3, 4], "y": [1, 2, 3, 4], "group": list("aabb"),
                          "experiment": ["e1", "e4", "e1", "e4"]})
    fig, ax = plt.subplots()
    sns.scatterplot(data=frame, x="x", y="y", hue="group", style="experiment", ax=ax)
    assert sorted(r.split("'")[1] for r in legend_header_rows(fig)) == ["experiment", "group"]
    fig, ax = plt.subplots()
    ax.scatter(frame["x"], frame["y"])
    ax.legend(handles=[Line2D([], [], marker="o", linestyle="", label="E1 relu")],
              title="runs")
    assert legend_header_rows(fig) == []


def _figure_set() -> FigureSet:
    figures = FigureSet("toy2020")

    @figures.figure("fig02_curves", "caption", ("e1",), title="loss vs epoch")
    def curves(inputs: FigureInputs) -> plt.Figure:
        # tight layout puts the top axes' tick labels at the figure's top edge: the old title
        # (a suptitle at y = 0.98) covered them
        fig, axes = plt.subplots(2, 1, figsize=(4, 3))
        for ax in axes:
            ax.plot([0, 1], [0, 1])
            ax.xaxis.tick_top()
        fig.tight_layout()
        return fig

    @figures.figure("figR01_x", "caption", ("e1",), title="x vs y",
                    regenerates="submission Fig. 1b")
    def x(inputs: FigureInputs) -> plt.Figure:
        return curves(inputs)

    figures.figure("figX01_y", "caption", ("e1",))(curves)
    return figures


def _inputs(scale: str = "smoke") -> FigureInputs:
    return FigureInputs(pd.DataFrame(), pd.DataFrame(), scale)


def test_the_title_names_paper_figure_title_what_it_regenerates_and_scale():
    figures = _figure_set().figures
    expected = {"fig02_curves": "toy2020 · fig02 · loss vs epoch (paper Fig. 2) · cpu scale",
                "figR01_x": "toy2020 · figR01 · x vs y (submission Fig. 1b) · cpu scale",
                "figX01_y": "toy2020 · figX01 · suite extension · cpu scale"}
    for stem, title in expected.items():
        fig = figures[stem].draw(_inputs("cpu"))
        assert " ".join(fig.get_suptitle().split()) == title
        assert title_problems(fig, "toy2020", "cpu") == []
        assert title_problems(fig, "toy2020", "smoke") != []


def test_the_title_sits_above_every_axes_and_its_tick_labels(tmp_path):
    fig = _figure_set().figures["fig02_curves"].draw(_inputs())
    save_figure(fig, tmp_path / "f.pdf", tmp_path / "f.png", "fig02_curves", "caption", "paper",
                "abc", tiny_slice=True)
    FigureCanvasAgg(fig)  # save_figure closed it; a canvas again to measure what it drew
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    title = fig.get_suptitle()
    assert "paper scale" in title and "TINY SLICE" in title and "smoke" not in title
    bottom = fig._suptitle.get_window_extent(renderer).y0
    assert all(ax.get_tightbbox(renderer).y1 <= bottom for ax in fig.axes)
    with Image.open(tmp_path / "f.png") as png:  # a viewer's title is the visible one
        assert png.text["Title"] == " ".join(title.split())


def test_a_figure_drawn_outside_the_registry_keeps_its_stem_in_the_title(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    save_figure(fig, tmp_path / "f.pdf", tmp_path / "f.png", "figR01_x", "caption", "smoke",
                "abc")
    assert fig.get_suptitle() == "figR01_x · smoke scale"
    assert figure_problems(fig, "figR01", "smoke") == []


@pytest.mark.parametrize("paper", PAPERS)
def test_every_figure_of_every_paper_has_a_title_in_words(paper):
    for stem, spec in load_module(REPO / "analysis" / paper / "figures.py").figures.figures.items():
        assert spec.paper == paper and spec.title, f"{paper} {stem}: no title"
        assert not any(word in spec.title for word in ("_", "TODO")), spec.title
        assert spec.heading.startswith(f"{paper} · {stem.split('_')[0]} · {spec.title} (")
