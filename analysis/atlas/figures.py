"""atlas figures (issue 29), one function per figure, reading the runs and metrics tables through
the atlas table (analysis/atlas/table.py). A suite study: no figure is a paper's figure, every
one is a figXNN suite extension, and the captions say so. The statistics are analysis/atlas/
stats.py's (Spearman's ρ at each run's final checkpoint, bootstrap 95% intervals over runs).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from analysis.atlas import stats, table, words
from trainlens.plotting import FigureInputs, FigureSet

figures = FigureSet("atlas")
SETTINGS = ("sinusoid_mlp", "mnist_mlp", "mnist_cnn")
SUITE = ("A suite study across the four papers' measures on the same networks, not a figure of "
         "any paper; findings, no thresholds.")
LOW_HIGH = "gen_gap"  # the outcome that picks figX03's low- and high-complexity runs
INTERVALS_UP_TO = 10  # matrices with at most this many measures print intervals in their cells


def _atlas(inputs: FigureInputs) -> pd.DataFrame:
    return table.atlas_table(inputs.runs, inputs.metrics)


def _say(ax: plt.Axes, text: str) -> None:
    """An axes with nothing to draw says why (trainlens.figure_checks)."""
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=8, transform=ax.transAxes)
    ax.set_axis_off()  # not set_xticks([]): that would clear the ticks of shared axes too


def _nothing(text: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(5, 2))
    _say(ax, text)
    return fig


def _cell_text(rho: float, low: float, high: float, intervals: bool) -> str:
    if not np.isfinite(rho):
        return "n/a"
    if intervals and np.isfinite(low) and np.isfinite(high):
        return f"{rho:+.2f}\n[{low:+.2f}, {high:+.2f}]"
    return f"{rho:+.2f}"


@figures.figure("figX01_rank_correlations",
                "Spearman's rank correlation ρ between every two measures and outcomes across "
                "the runs of each setting (one panel per setting), at each run's final "
                "checkpoint; ρ is printed in each cell with its percentile bootstrap 95% "
                "interval over runs (1000 resamples, fixed seed) below it where the matrix is "
                "small enough, else the intervals are in REPORT.md. n/a: fewer than 4 runs with "
                "both defined or a constant column. Each measure is read as its paper reads it "
                "(fort2019's stiffness Δ and ξ grow with smoothness, the others with "
                "complexity), so agreement is ρ of the sign those readings predict. " + SUITE,
                SETTINGS, title="rank correlations of all measures and outcomes")
def rank_correlations(inputs: FigureInputs) -> plt.Figure:
    atlas = _atlas(inputs)
    if atlas.empty:
        return _nothing("no ok run with atlas measures")
    corr = stats.correlations(atlas)
    settings = words.setting_order(atlas["setting"])
    size = max(len(stats.matrix(corr, s)) for s in settings)
    side = max(4.0, 0.62 * size + 1.5)
    fig, axes = plt.subplots(1, len(settings), figsize=(side * len(settings), side),
                             squeeze=False, layout="constrained")
    runs = atlas.groupby("setting")["run_id"].nunique()
    image = None
    for ax, setting in zip(axes[0], settings):
        rho, low, high = (stats.matrix(corr, setting, c) for c in ("rho", "low", "high"))
        if rho.empty:
            _say(ax, f"{words.setting(setting)}: fewer than two measures")
            continue
        image = ax.imshow(np.ma.masked_invalid(rho.to_numpy(float)), cmap="RdBu_r", vmin=-1,
                          vmax=1)
        labels = [words.measure(m) for m in rho.index]
        ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=7)
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        ax.grid(False)
        intervals = len(labels) <= INTERVALS_UP_TO
        for i, a in enumerate(rho.index):
            for j, b in enumerate(rho.columns):
                value = rho.loc[a, b]
                ax.text(j, i, _cell_text(value, low.loc[a, b], high.loc[a, b],
                                         intervals and i != j),
                        ha="center", va="center", fontsize=5 if intervals else 6,
                        color="white" if abs(value) > 0.6 else "black")  # NaN: black
        ax.set_title(f"{words.setting(setting)} ({runs[setting]} runs)", fontsize=9)
    if image is not None:
        fig.colorbar(image, ax=axes[0].tolist(), shrink=0.6, label="Spearman's ρ")
    return fig


def _final(atlas: pd.DataFrame) -> pd.DataFrame:
    last = atlas.groupby("run_id")["step"].transform("max")
    return atlas[atlas["step"] == last]


def _knob_colours(varied) -> dict[str, tuple]:
    knobs = [k for k in words.KNOBS if k in set(varied)] + sorted(set(varied) - set(words.KNOBS))
    palette = plt.get_cmap("tab10")
    return {k: ((0, 0, 0, 1) if k == "base" else palette(i % 10)) for i, k in enumerate(knobs)}


@figures.figure("figX02_measures_vs_gap",
                "Each measure (one row per measure) against the generalization gap (test loss − "
                "train loss) at each run's final checkpoint, one column per setting, one point "
                "per run, coloured by the knob that run varies from the base point (black: the "
                "base point); ρ in each panel is Spearman's rank correlation over the panel's "
                "runs. A panel says so where its setting does not define the measure. " + SUITE,
                SETTINGS, title="each measure against the generalization gap")
def measures_vs_gap(inputs: FigureInputs) -> plt.Figure:
    atlas = _atlas(inputs)
    if atlas.empty:
        return _nothing("no ok run with atlas measures")
    final = _final(atlas)
    settings = words.setting_order(final["setting"])
    measures = [m for m in table.MEASURES if m in set(final["measure"])]
    colours = _knob_colours(final["varied"])
    fig, axes = plt.subplots(max(1, len(measures)), len(settings),
                             figsize=(3.2 * len(settings), 2.3 * max(1, len(measures))),
                             squeeze=False, layout="constrained")
    for col, setting in enumerate(settings):
        rows = final[final["setting"] == setting]
        gap = rows[rows["measure"] == "gen_gap"].set_index("run_id")["value"]
        axes[0, col].set_title(words.setting(setting), fontsize=9)
        for row, measure in enumerate(measures):
            ax = axes[row, col]
            values = rows[rows["measure"] == measure].set_index("run_id")
            if values.empty or gap.empty:
                _say(ax, f"{words.measure(measure)}:\nnot defined for this setting"
                     if values.empty else "no generalization gap in this setting")
                continue
            both = values.join(gap.rename("gap"), how="inner")
            for varied, points in both.groupby("varied"):
                ax.scatter(points["value"], points["gap"], s=14, color=colours[varied])
            x = both["value"].to_numpy(float)
            if np.isfinite(x).any() and (x[np.isfinite(x)] > 0).all() and (
                    np.nanmax(x) > 100 * np.nanmin(x)):
                ax.set_xscale("log")
            rho = stats.spearman(x, both["gap"].to_numpy(float))
            ax.text(0.03, 0.95, "ρ n/a" if np.isnan(rho) else f"ρ = {rho:+.2f}",
                    transform=ax.transAxes, va="top", fontsize=7)
            if not np.isfinite(x).any():
                _say(ax, f"{words.measure(measure)}:\nundefined for every run\n(e.g. censored)")
            ax.set_xlabel(words.measure(measure), fontsize=8)
            if col == 0:
                ax.set_ylabel("generalization gap", fontsize=8)
    handles = [Line2D([], [], marker="o", linestyle="", color=c, label=words.knob(k))
               for k, c in colours.items()]
    fig.legend(handles=handles, title="knob varied", loc="outside lower center",
               ncol=min(5, len(handles)), fontsize=8)
    return fig


def low_high_runs(final: pd.DataFrame, outcome: str = LOW_HIGH) -> dict[str, tuple[str, str]]:
    """Per setting, the runs of lowest and highest final ``outcome`` (ties: the first run id)."""
    out = {}
    for setting, rows in final[final["measure"] == outcome].groupby("setting"):
        rows = rows[np.isfinite(rows["value"])].sort_values(["value", "run_id"])
        if len(rows):
            out[setting] = (rows["run_id"].iloc[0], rows["run_id"].iloc[-1])
    return out


@figures.figure("figX03_trajectories_low_high",
                "Each measure and outcome (one row each) over training, at every checkpoint "
                "(x: step on a symmetric log scale, linear below step 1 so that initialisation "
                "shows; one x range per column), for two runs per setting (one column per "
                "setting): the run with the lowest and the run with the highest generalization "
                "gap (test loss − train loss) at its final checkpoint, named with the knob it "
                "varies and its seed. " + SUITE,
                SETTINGS, title="measure trajectories of a low- and a high-gap run")
def trajectories(inputs: FigureInputs) -> plt.Figure:
    atlas = _atlas(inputs)
    if atlas.empty:
        return _nothing("no ok run with atlas measures")
    chosen = low_high_runs(_final(atlas))
    settings = words.setting_order(atlas["setting"])
    measures = [m for m in table.ORDER if m in set(atlas["measure"])]
    fig, axes = plt.subplots(len(measures), len(settings),
                             figsize=(3.4 * len(settings), 1.9 * len(measures)),
                             squeeze=False, layout="constrained", sharex="col")
    styles = {"low": ("tab:blue", "lowest gap"), "high": ("tab:red", "highest gap")}
    for col, setting in enumerate(settings):
        axes[0, col].set_title(words.setting(setting), fontsize=9)
        if setting not in chosen:
            for ax in axes[:, col]:
                _say(ax, "no run with a final generalization gap")
            continue
        rows = atlas[atlas["run_id"].isin(chosen[setting])]
        for row, measure in enumerate(measures):
            ax = axes[row, col]
            series = rows[rows["measure"] == measure]
            if series.empty:
                _say(ax, f"{words.measure(measure)}:\nnot defined for this setting")
                continue
            for which, run_id in zip(("low", "high"), chosen[setting]):
                run = series[series["run_id"] == run_id].sort_values("step")
                info = atlas[atlas["run_id"] == run_id].iloc[0]
                colour, name = styles[which]
                ax.plot(run["step"], run["value"], marker=".", color=colour,
                        label=f"{name}: {words.knob_setting(info['varied'], info['knob_value'])}"
                              f", seed {info['seed']}")
            if not np.isfinite(series["value"]).any():
                _say(ax, f"{words.measure(measure)}:\nundefined at every checkpoint")
            ax.set_xscale("symlog", linthresh=1.0)
            ax.set_ylabel(words.measure(measure), fontsize=7)
            if row == len(measures) - 1:
                ax.set_xlabel("step (symmetric log scale)", fontsize=8)
            if row == 0:
                ax.legend(fontsize=6, loc="best")
    return fig
