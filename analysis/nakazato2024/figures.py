"""nakazato2024 figures (docs/protocols/nakazato2024.md §5), one function per figure; each reads
tables only.

RECONSTRUCTED: the paper's text was not available, so every figure here (figRNN) is the protocol's
reconstruction from the abstract; its number, axes and runs are not the paper's. Curves are
medians over seeds of per-run values.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D

from analysis.nakazato2024.stats import (
    GRID_RANGE,
    aging_table,
    final_values,
    series,
    settings,
    two_time_curves,
)
from trainlens.plotting import FigureInputs, FigureSet

figures = FigureSet("nakazato2024")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")
FACTORS = {"response_mean": "Ā (response)", "error_factor": "ē (error factor)",
           "ntk_offdiag": "Θ (mean off-diag.)", "khat_offdiag": "K̂ (mean off-diag.)"}
METHOD_STYLE = {"GD": "-", "SGD bs 1": "--", "SGD bs 4": ":"}
# docs/protocols/nakazato2024.md §4.6: the fragility measures of figR06, as axis labels
FRAGILITY = {"geometric_complexity": "geometric complexity GC",
             "lipschitz_max": "max input-gradient norm",
             "boundary_distance": "boundary distance (first order, input units)",
             "parameter_sensitivity": r"parameter sensitivity $S_\theta(0.01)$",
             "ablation_share": "largest one-neuron output share"}
NOTE = " [reconstructed: the paper's text was not available]"


def _median_series(inputs: FigureInputs, run_ids: pd.Index, metric: str) -> pd.Series:
    rows = series(inputs.metrics[inputs.metrics["run_id"].isin(run_ids)], metric)
    return rows.groupby("step")["value"].median()


def _factor_panels(inputs: FigureInputs, loss: str, highlight: str | None = None) -> plt.Figure:
    """figR01/figR03: the factors of the response vs t, one panel per activation."""
    table = settings(inputs.runs)
    e1 = table[(table["experiment"] == "e1") & (table["loss"] == loss)]
    t_c = inputs.metrics[inputs.metrics["metric"] == "t_c"].set_index("run_id")["value"]
    fig, axes = plt.subplots(1, 4, figsize=(16, 4), sharey=True, layout="constrained")
    colors = dict(zip(FACTORS, sns.color_palette("viridis", len(FACTORS))))
    for ax, activation in zip(axes, ACTIVATIONS):
        for method, runs in e1[e1["activation"] == activation].groupby("method"):
            bold = highlight == activation and method == "GD"
            for metric, label in FACTORS.items():
                median = _median_series(inputs, runs.index, metric)
                median = median[(median.index > 0) & (median.abs() > 0)]
                ax.plot(median.index, median.abs(), METHOD_STYLE.get(method, "-"),
                        color=colors[metric], linewidth=2.5 if bold else 1.2,
                        label=f"{label}, {method}")
            first = t_c.reindex(runs.index).median()
            if np.isfinite(first):
                ax.axvline(first, color="grey", linestyle=METHOD_STYLE.get(method, "-"),
                           linewidth=0.8)
        ax.set(xscale="log", yscale="log", xlabel="step t",
               title=activation + (" (highlighted: non-interpolating GD)"
                                   if highlight == activation else ""))
    axes[0].set_ylabel("median over seeds (|value|)")
    axes[-1].legend(fontsize=6, loc="lower left")
    return fig


@figures.figure(
    "figR01_response_factors",
    "E1, cross-entropy: mean off-diagonal response Ā(t) = mean|R_t(x_j|x_i)|/η_p, error factor "
    "ē(t), NTK Θ and normalised kernel K̂ vs step (log-log), per activation; GD solid, SGD bs 1 "
    "dashed; grey lines mark t_c (train accuracy 1). Expected: a plateau, then aging Ā ∝ t^-α "
    "with α ≈ 1 while K̂ stays nearly constant (C1-C4)." + NOTE, ("e1",),
    title="response and its factors vs step, cross-entropy")
def fig_r01(inputs: FigureInputs) -> plt.Figure:
    return _factor_panels(inputs, "logistic")


@figures.figure(
    "figR02_factorization_check",
    "E2: finite-step vs first-order response R_t(x_j|x_i)/η_p over all pairs at η_p = 1e-3, "
    "coloured by probe time, per activation; last panel: relative L2 error vs η_p (C5)." + NOTE,
    ("e2",), title="finite-step vs first-order response")
def fig_r02(inputs: FigureInputs) -> plt.Figure:
    table = settings(inputs.runs)
    metrics = inputs.metrics
    fig, axes = plt.subplots(1, 5, figsize=(20, 4), layout="constrained")
    for ax, activation in zip(axes, ACTIVATIONS):
        runs = table.index[table["activation"] == activation]
        rows = metrics[metrics["run_id"].isin(runs)]
        pairs = rows[rows["metric"].isin(["response_finite", "response_first_order"])]
        wide = pairs.pivot_table(index=["step", "split"], columns="metric", values="value")
        wide = wide.reset_index()
        sns.scatterplot(data=wide, x="response_first_order", y="response_finite", hue="step",
                        palette="viridis", s=12, ax=ax, legend=activation == "relu")
        low, high = wide[["response_first_order", "response_finite"]].stack().agg(["min", "max"])
        ax.plot([low, high], [low, high], color="grey", linewidth=0.8)
        ax.set(title=activation, xlabel="first order −ℓ'_i Θ_ji", ylabel="finite step R/η_p")
    errors = metrics[metrics["metric"] == "response_relative_error"].copy()
    errors["eta_p"] = errors["split"].str.split("=").str[1].astype(float)
    errors["activation"] = errors["run_id"].map(table["activation"])
    for (activation, step), rows in errors.groupby(["activation", "step"]):
        rows = rows.sort_values("eta_p")
        axes[4].plot(rows["eta_p"], rows["value"], marker="o", linewidth=0.8,
                     label=f"{activation}, t={step}")
    axes[4].plot([1e-4, 1e-2], [1e-4, 1e-2], color="grey", linestyle=":", label="∝ η_p")
    axes[4].axhline(0.05, color="red", linewidth=0.8, label="C5: 5% at η_p = 1e-3")
    axes[4].set(xscale="log", yscale="log", xlabel="probe step size η_p",
                ylabel="relative L2 error", title="first-order error")
    axes[4].legend(fontsize=5, ncol=2)
    return fig


@figures.figure(
    "figR03_loss_dependence",
    "E1, MSE: the factors of figR01 for MSE runs; the linear GD run (non-interpolating, loss floor "
    "about 0.11) is drawn bold. Expected: constant response at the non-interpolating fixed point, "
    "exponential relaxation where the net interpolates (C6)." + NOTE, ("e1",),
    title="response and its factors vs step, MSE")
def fig_r03(inputs: FigureInputs) -> plt.Figure:
    return _factor_panels(inputs, "mse", highlight="linear")


@figures.figure(
    "figR04_two_time_response",
    "E3: two-time response χ(t_w+τ, t_w)/χ(τ=1) at the kicked point, one colour per waiting time "
    "t_w, vs τ (raw axis) and vs τ/t_w (scaled axis); GD solid, SGD bs 4 dotted; shaded: the "
    "collapse-score grid. Expected: collapse in τ/t_w under CE (simple aging), none under MSE "
    "(C7)." + NOTE, ("e3",), title="two-time response vs lag and lag / waiting time")
def fig_r04(inputs: FigureInputs) -> plt.Figure:
    return _two_time_panels(inputs)


@figures.figure(
    "figX01_two_time_small_kick",
    "E3 with a kick of 0.01·η instead of η (suite extension): the two-time response of figR04 "
    "in the linear-response regime; compare the collapse with figR04's unit kick (C7 reports "
    "both)." + NOTE, ("e3_small_kick",), title="two-time response, kick 0.01·η")
def fig_x01(inputs: FigureInputs) -> plt.Figure:
    return _two_time_panels(inputs)


def _two_time_panels(inputs: FigureInputs) -> plt.Figure:
    """figR04/figX01: χ/χ(τ=1) vs τ (top) and τ/t_w (bottom) per activation x loss."""
    table = settings(inputs.runs)
    cells = [(a, loss) for a in ("relu", "tanh") for loss in ("logistic", "mse")]
    fig, axes = plt.subplots(2, 4, figsize=(17, 7), layout="constrained")
    for column, (activation, loss) in enumerate(cells):
        runs = table[(table["activation"] == activation) & (table["loss"] == loss)]
        t_w_all: set[int] = set()
        for run_id, run in runs.iterrows():
            curves = two_time_curves(inputs.metrics, run_id)
            t_w_all |= set(curves)
            palette = dict(zip(sorted(curves), sns.color_palette("viridis", len(curves))))
            for t_w, (tau, chi) in curves.items():
                normalised = chi / chi[tau == 1][0]
                style = METHOD_STYLE.get(run["method"], "-")
                label = (f"$t_w$ = {t_w}, {run['method']}" if run["seed"] == runs["seed"].min()
                         else None)
                axes[0, column].plot(tau, normalised, style, color=palette[t_w], label=label)
                axes[1, column].plot(tau / t_w, normalised, style, color=palette[t_w])
        if t_w_all:
            low, high = GRID_RANGE
            axes[0, column].axvspan(low * min(t_w_all), high * min(t_w_all), alpha=0.08)
            axes[1, column].axvspan(low, high, alpha=0.08)
        axes[0, column].set(xscale="log", yscale="log", xlabel="lag τ (steps)",
                            title=f"{activation}, {loss}")
        axes[1, column].set(xscale="log", yscale="log", xlabel="τ / $t_w$ (lag / waiting time)")
        axes[0, column].legend(fontsize=6)
    axes[0, 0].set_ylabel("χ / χ(τ=1)")
    axes[1, 0].set_ylabel("χ / χ(τ=1)")
    return fig


@figures.figure(
    "figR05_feature_reduction",
    "E4 (linear network, MSE, label flips q = 0.25): participation ratios PR_W, PR_H and the "
    "effective neuron count N_eff vs step, median over seeds per batch size (0 = GD). Expected: "
    "small batches shrink the feature space relative to GD (C8)." + NOTE, ("e4",),
    title="participation ratios and effective neuron count vs step")
def fig_r05(inputs: FigureInputs) -> plt.Figure:
    table = settings(inputs.runs)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4), layout="constrained")
    methods = sorted(table["batch_size"].unique(), key=lambda b: b if b else np.inf)
    palette = dict(zip(methods, sns.color_palette("viridis", len(methods))))
    for ax, (metric, label) in zip(axes, (("pr_weights", "PR_W"), ("pr_hidden", "PR_H"),
                                          ("effective_neurons", "N_eff"))):
        for batch_size in methods:
            runs = table.index[table["batch_size"] == batch_size]
            median = _median_series(inputs, runs, metric)
            median = median[median.index > 0]
            ax.plot(median.index, median.to_numpy(), color=palette[batch_size],
                    label=table.loc[runs[0], "method"])
        ax.set(xscale="log", xlabel="step t", ylabel=label, title=label)
    axes[0].legend()
    return fig


@figures.figure(
    "figR06_fragility",
    "E4 and E1 cross-entropy runs at the end of training: each fragility measure (§4.6: GC, "
    "max input-gradient norm, first-order boundary distance, parameter sensitivity S_θ(0.01), "
    "largest one-neuron output share) vs PR_W, one point per run. Report only (C9): the paper's "
    "fragility measure is not known." + NOTE, ("e1", "e4"),
    title="fragility measures vs final participation ratio")
def fig_r06(inputs: FigureInputs) -> plt.Figure:
    table = settings(inputs.runs)
    chosen = table[(table["experiment"] == "e4")
                   | ((table["experiment"] == "e1") & (table["loss"] == "logistic"))].copy()
    chosen["group"] = np.where(chosen["experiment"] == "e4", "E4 " + chosen["method"],
                               "E1 " + chosen["activation"])
    chosen["pr_weights"] = final_values(inputs.metrics, "pr_weights")
    groups = sorted(chosen["group"].unique())
    colors = dict(zip(groups, sns.color_palette(n_colors=len(groups))))
    markers = {"e1": "o", "e4": "X"}
    fig, axes = plt.subplots(1, 5, figsize=(21, 4), layout="constrained")
    for ax, (metric, label) in zip(axes, FRAGILITY.items()):
        frame = chosen.assign(value=final_values(inputs.metrics, metric))
        for (group, experiment), rows in frame.groupby(["group", "experiment"]):
            ax.scatter(rows["pr_weights"], rows["value"], s=25, color=colors[group],
                       marker=markers.get(experiment, "o"), edgecolor="white", linewidth=0.5)
        ax.set(yscale="log", xlabel="final participation ratio $PR_W$", ylabel=label,
               title=label.split(" (")[0])
    # explicit handles: one row per group of runs, no seaborn hue/style header rows
    experiment = chosen.groupby("group")["experiment"].first()
    handles = [Line2D([], [], linestyle="", marker=markers.get(experiment[g], "o"), markersize=6,
                      color=colors[g], label=g) for g in groups]
    axes[-1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1, 1), fontsize=6,
                    title="runs (E1: cross-entropy)", title_fontsize=6)
    return fig


@figures.figure(
    "figR07_activation_comparison",
    "E1 cross-entropy, per activation and method (median over seeds): aging exponent α̂, t_c, "
    "late kernel drift K̂(T) − K̂(T/10) and the relative change of PR_W over training. Expected: "
    "sigmoid has the slowest onset and the largest kernel drift (C10)." + NOTE, ("e1",),
    title="aging, onset, kernel drift and weight-feature change per activation")
def fig_r07(inputs: FigureInputs) -> plt.Figure:
    table = aging_table(inputs.runs, inputs.metrics)
    table = table[(table["experiment"] == "e1") & (table["loss"] == "logistic")].reset_index()
    fig, axes = plt.subplots(1, 4, figsize=(16, 4), layout="constrained")
    for ax, (column, label) in zip(axes, (("alpha", "α̂ (late aging exponent)"),
                                          ("t_c", "$t_c$ (step of train accuracy 1)"),
                                          ("khat_drift", "K̂(T) − K̂(T/10)"),
                                          ("pr_change", "relative change of PR_W"))):
        sns.barplot(data=table, x="activation", y=column, hue="method", order=list(ACTIVATIONS),
                    estimator="median", errorbar=("pi", 100), ax=ax, palette="viridis",
                    legend=column == "alpha")
        ax.set(ylabel=label, title=label, xlabel="")
    axes[1].set_yscale("log")
    return fig
