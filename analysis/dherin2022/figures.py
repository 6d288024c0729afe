"""dherin2022 figures (docs/protocols/dherin2022.md §5), one function per figure; tables only.

RECONSTRUCTED: the paper's body was not available, so every figure (figRNN) is the protocol's
reconstruction; its number, axes and runs are not the paper's. figX01 (input noise) is a suite
extension (§2b D-a). Final GC is the exact eval-mode GC
on all training points at each run's last checkpoint; curves over steps are the trainer's log
(medians over seeds).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from analysis.dherin2022.stats import curves, run_summary
from trainlens.plotting import FigureInputs, FigureSet

figures = FigureSet("dherin2022")
NOTE = " [reconstructed: the paper's body was not available; grids are the protocol's]"
NOT_CONFIRMED = (" Its presence in the paper is not confirmed (docs/protocols/dherin2022.md §2b "
                 "D-c): a suite check.")
INITS = {"lecun_normal": "LeCun-normal", "glorot_uniform": "Glorot-uniform",
         "he_normal": "He-normal"}


def _palette(values) -> dict:
    values = sorted(set(values))
    return dict(zip(values, sns.color_palette("viridis", len(values))))


def _curve_panel(ax: plt.Axes, inputs: FigureInputs, metric: str, split: str, label: str,
                 swept: str) -> None:
    table = curves(inputs.runs, inputs.metrics, metric, split)
    colors = _palette(table["swept"])
    for value, rows in table.groupby("swept"):
        median = rows.groupby("step")["value"].median()
        ax.plot(median.index, median.to_numpy(), color=colors[value], label=f"{swept} = {value:g}")
    ax.set(xlabel="step", ylabel=label, yscale="log")
    ax.legend(fontsize=7)


def _final_panel(ax: plt.Axes, summary: pd.DataFrame, swept: str) -> None:
    """Final GC (points per seed, line through medians) and test accuracy on a twin axis."""
    medians = summary.groupby("value")[["gc", "test_accuracy"]].median()
    positions = {v: i for i, v in enumerate(medians.index)}  # categorical x: 0 has no log
    ax.scatter(summary["value"].map(positions), summary["gc"], color="C0", alpha=0.5, s=12)
    ax.plot(range(len(medians)), medians["gc"], "o-", color="C0", label="final GC")
    ax.set(xticks=range(len(medians)), xticklabels=[f"{v:g}" for v in medians.index],
           xlabel=swept, ylabel="final GC (train)", yscale="log")
    twin = ax.twinx()
    twin.plot(range(len(medians)), 100 * medians["test_accuracy"], "s--", color="C3",
              label="test accuracy")
    twin.set_ylabel("test accuracy (%)", color="C3")
    twin.grid(False)


def _sweep_figure(inputs: FigureInputs, swept: str, slope: bool = False) -> plt.Figure:
    summary = run_summary(inputs.runs, inputs.metrics)
    fig, axes = plt.subplots(1, 3 if slope else 2, figsize=(15 if slope else 11, 4))
    _curve_panel(axes[0], inputs, "geometric_complexity", "train", "GC (train, logged)", swept)
    _final_panel(axes[1], summary, swept)
    if slope:
        _curve_panel(axes[2], inputs, "loss_slope", "train", "loss slope ‖∇θ L‖²", swept)
        axes[2].yaxis.set_label_position("right")  # clear of the middle panel's accuracy axis
        axes[2].yaxis.tick_right()
    fig.subplots_adjust(wspace=0.45)
    return fig


@figures.figure(
    "figR01_gc_init_depth",
    "E1: GC at initialization vs depth L (784 → L×500 ReLU → 10, zero biases, 256 inputs from "
    "U[0,1]^784), medians over seeds (points: seeds), one line per init. Expected: decay toward "
    "0 with depth for LeCun-normal and Glorot-uniform, flat for He-normal (C1). The protocol's "
    "inset (the function along a 1-D input segment) is not drawn." + NOTE, ("e1",),
    title="geometric complexity at initialization vs depth, per init")
def fig_r01(inputs: FigureInputs) -> plt.Figure:
    summary = run_summary(inputs.runs, inputs.metrics)
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for index, (init, rows) in enumerate(summary.groupby("init")):
        median = rows.groupby("value")["gc_init"].median()
        ax.plot(median.index, median.to_numpy(), "o-", color=f"C{index}",
                label=INITS.get(init, init))
        ax.scatter(rows["value"], rows["gc_init"], color=f"C{index}", alpha=0.4, s=10)
    ax.set(xscale="log", yscale="log", xlabel="depth L (hidden layers)", ylabel="GC at init")
    ax.set_xscale("log", base=2)
    ax.legend()
    return fig


@figures.figure(
    "figR02_l2",
    "E2: L2 regularization (weight decay λ, MLP 64-256-256-10 on digits). Left: GC on the "
    "training set vs step, median per λ; right: final GC (points: seeds) and test accuracy vs λ. "
    "Expected: larger λ, lower GC (C2)." + NOTE, ("e2",),
    title="geometric complexity under L2 regularization")
def fig_r02(inputs: FigureInputs) -> plt.Figure:
    return _sweep_figure(inputs, "λ")


@figures.figure(
    "figR03_spectral",
    "E3: spectral-norm regularization λ Σ σ_max(W_l)² (one power iteration per step, vectors "
    "kept across steps). Panels as figR02. Expected: larger λ, lower GC (C3)." + NOTE, ("e3",),
    title="geometric complexity under spectral-norm regularization")
def fig_r03(inputs: FigureInputs) -> plt.Figure:
    return _sweep_figure(inputs, "λ")


@figures.figure(
    "figR04_flatness",
    "E4: flatness regularization μ‖∇θ L_B‖² (double backprop). Panels as figR02, plus the loss "
    "slope ‖∇θ L‖² on the training set vs step. Expected: the weakest effect, still lower GC for "
    "larger μ (C4)." + NOTE, ("e4",),
    title="geometric complexity under flatness regularization")
def fig_r04(inputs: FigureInputs) -> plt.Figure:
    return _sweep_figure(inputs, "μ", slope=True)


@figures.figure(
    "figR05_explicit_gc",
    "E5 (a suite check): explicit GC penalty λ·GĈ, one Rademacher projection per example. Panels "
    "as figR02. Expected: GC falls by orders of magnitude (C5)." + NOT_CONFIRMED + NOTE, ("e5",),
    title="geometric complexity under an explicit GC penalty")
def fig_r05(inputs: FigureInputs) -> plt.Figure:
    return _sweep_figure(inputs, "λ")


@figures.figure(
    "figR06_noise",
    "E6 label noise: final GC on the clean training labels (points: seeds; line: medians) and "
    "test accuracy vs p. Left (primary, docs/protocols/dherin2022.md §2b D-b): label-noise SGD, a "
    "fresh share p of every minibatch relabelled with another class at every step (C7). Right "
    "(labelled variant): a share p of the training labels redrawn from all classes once and kept "
    "fixed, which the network can memorise (reported in C7, not judged). Confound (pitfall 7): "
    "GC on logits scales with the logits' magnitude, and noisy labels lower the confidence, so a "
    "lower GC may be lower confidence rather than a simpler function; the margin-normalised GC "
    "is not computed." + NOTE, ("e6_label_noise", "e6_label_noise_fixed"),
    title="geometric complexity under label noise")
def fig_r06(inputs: FigureInputs) -> plt.Figure:
    summary = run_summary(inputs.runs, inputs.metrics)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, (experiment, title) in zip(axes, (
            ("e6_label_noise", "label-noise SGD (fresh each step; primary)"),
            ("e6_label_noise_fixed", "fixed corrupted labels (variant)"))):
        _final_panel(ax, summary[summary["experiment"] == experiment], "label noise p")
        ax.set_title(title, fontsize=9)
    fig.subplots_adjust(wspace=0.45)
    return fig


@figures.figure(
    "figX01_input_noise",
    "E6 input noise, a suite extension (docs/protocols/dherin2022.md §2b D-a: no source names an "
    "input-noise experiment of the paper): final GC (points: seeds; line: medians) and test "
    "accuracy vs σ of x + σ·N(0, I), fresh each step, training only. Expected: larger σ, lower "
    "GC (C6, reported, never gating).", ("e6_input_noise",),
    title="geometric complexity under input noise")
def fig_x01(inputs: FigureInputs) -> plt.Figure:
    summary = run_summary(inputs.runs, inputs.metrics)
    fig, ax = plt.subplots(figsize=(6, 4.5))
    _final_panel(ax, summary[summary["experiment"] == "e6_input_noise"], "input noise σ")
    return fig


def _excluded_note(summary: pd.DataFrame, swept: str) -> str:
    """The runs left out of the matched-loss panel, in words: 'excluded runs: 3 at learning
    rate 1 (diverged)'."""
    diverged = summary[summary["status"] != "ok"].groupby("value").size()
    unconverged = summary[(summary["status"] == "ok") & ~summary["reached_target"]]
    parts = [f"{n} at {swept} {v:g} (diverged)" for v, n in diverged.items()]
    parts += [f"{n} at {swept} {v:g} (train loss never reached the target)"
              for v, n in unconverged.groupby("value").size().items()]
    return "excluded runs: " + (", ".join(parts) if parts else "none")


def _matched_panel(ax: plt.Axes, summary: pd.DataFrame, swept: str) -> None:
    converged = summary[(summary["status"] == "ok") & summary["reached_target"]]
    medians = converged.groupby("value")["gc"].median()
    ax.scatter(converged["value"], converged["gc"], color="C0", alpha=0.5, s=12)
    ax.plot(medians.index, medians.to_numpy(), "o-", color="C0")
    ax.set(xscale="log", xlabel=swept, ylabel="GC at matched train loss")
    ax.set_xticks(medians.index, [f"{v:g}" for v in medians.index])
    ax.minorticks_off()
    ax.set_title(_excluded_note(summary, swept), fontsize=8)


@figures.figure(
    "figR07_learning_rate",
    "E7: GC at matched train loss vs learning rate (smoke regime: full-batch GD on MSE with "
    "one-hot targets, each run stopped at the first step with train loss < 0.02; diverged runs "
    "excluded and listed above the panel). Right: GC vs train loss along training, one curve per "
    "lr. Expected: larger lr, lower GC (C8). At a fixed step budget with CE/SGD the conclusion "
    "flips (docs/protocols/dherin2022.md §7 P5)." + NOTE, ("e7",),
    title="geometric complexity at matched train loss vs learning rate")
def fig_r07(inputs: FigureInputs) -> plt.Figure:
    summary = run_summary(inputs.runs, inputs.metrics)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    _matched_panel(axes[0], summary, "learning rate")
    gc = curves(inputs.runs, inputs.metrics)
    loss = curves(inputs.runs, inputs.metrics, "loss", "train")
    joined = gc.merge(loss, on=["run_id", "step", "swept"], suffixes=("_gc", "_loss"))
    colors = _palette(joined["swept"])
    for value, rows in joined.groupby("swept"):
        for _, run in rows.groupby("run_id"):
            axes[1].plot(run["value_loss"], run["value_gc"], color=colors[value], alpha=0.7)
        axes[1].plot([], [], color=colors[value], label=f"lr = {value:g}")
    axes[1].set(xscale="log", xlabel="train loss", ylabel="GC (train, logged)")
    axes[1].invert_xaxis()
    axes[1].legend(fontsize=7)
    return fig


@figures.figure(
    "figR08_batch_size",
    "E8: GC at matched train loss vs batch size (smoke regime: SGD on MSE with one-hot targets, "
    "lr 0.2, each run stopped at the first check with full train loss < 0.02). Expected: smaller "
    "batch, lower GC (C9)." + NOTE, ("e8",),
    title="geometric complexity at matched train loss vs batch size")
def fig_r08(inputs: FigureInputs) -> plt.Figure:
    summary = run_summary(inputs.runs, inputs.metrics)
    fig, ax = plt.subplots(figsize=(6, 4.5))
    _matched_panel(ax, summary, "batch size")
    return fig


@figures.figure(
    "figR09_double_descent",
    "E9: test and train loss (left axis) and final GC (right axis) vs width, medians over "
    "seeds, with 20% label noise (smoke: one-hidden-layer MLP, ½‖z − onehot(y)‖², Adam, full "
    "batch). The dotted line marks the interpolation threshold, the first width with train "
    "loss < 0.01. Expected: GC peaks with the test loss near the threshold and falls after "
    "(C10)." + NOT_CONFIRMED + NOTE, ("e9", "e9_resnet"),
    title="geometric complexity and double descent vs width")
def fig_r09(inputs: FigureInputs) -> plt.Figure:
    summary = run_summary(inputs.runs, inputs.metrics)
    medians = summary.groupby("value")[["gc", "test_loss", "train_loss"]].median().sort_index()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(medians.index, medians["test_loss"], "o-", color="C3", label="test loss")
    ax.plot(medians.index, medians["train_loss"], "^:", color="grey", label="train loss")
    ax.set(xscale="log", xlabel="width", ylabel="loss ½‖z − onehot(y)‖²")
    ax.set_xscale("log", base=2)
    twin = ax.twinx()
    twin.plot(medians.index, medians["gc"], "s-", color="C0", label="GC")
    twin.set(ylabel="final GC (train)", yscale="log")
    twin.grid(False)
    interpolating = medians.index[medians["train_loss"] < 0.01]
    if len(interpolating):
        ax.axvline(interpolating[0], color="black", linestyle=":", linewidth=1)
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    ax.legend(handles=handles, fontsize=8)
    return fig


