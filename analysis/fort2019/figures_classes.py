"""fort2019 figures of stiffness during training and between classes (docs/protocols/fort2019.md
§5): fig03, figR01 and figR02, one function per figure, reading tables. This file begins the
paper's figure set and its shared captions; figures_distance.py continues it.

arXiv v3 is pinned and its body is still unread. fig03 is the paper's Figure 3 by its known
content (training curves with the orange overfitting zone); every figRNN is a reconstruction, its
number unknown. Stiffness is class-balanced, on the fixed class-stratified probe; the overfitting
zone starts at e* (the checkpoint of lowest val loss). Each figure prints the paper's own values
(v1's full text, docs/protocols/fort2019.md §2b F-d) in a "paper says" line under it and in its
caption, beside ours. The PyTorch-default init variant (docs/protocols/fort2019.md §2b F-c) is
shown beside the primary Glorot-uniform runs: its at-init class matrix in figR01, its E2 grid
(paper scale) as its own row in figR03 and figR05. figR06 (BERT on MNLI) is not built (see the
report).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from analysis.fort2019.stats import (
    VARIANT_LABEL,
    VARIANT_SUFFIX,
    class_matrix,
    curves,
    e1_runs,
    e_star,
    experiment_runs,
)
from trainlens.plotting import FigureInputs, FigureSet

figures = FigureSet("fort2019")
# the experiments each figure reads (exact names: runs are filtered by them), both scales
E2 = ("e2_digits_fc", *(f"e2_{data}_{arch}" for data in ("mnist", "fmnist", "cifar10")
                        for arch in ("fc", "cnn", "resnet20")), "e2_mnist_fc" + VARIANT_SUFFIX)
# at paper scale E1 is the lr = 1e-3 slice of E2; at cpu scale the CNN has its own e1_ group
E1 = ("e1_fc", "e1_cnn", "e1_mnist5k_cnn", "e1_fc" + VARIANT_SUFFIX, *E2)
E3 = ("e3_hierarchy_fc", "e3_cifar100_fc", "e3_cifar100_cnn", "e3_cifar100_resnet20")
NOTE = (" [v3's body unread; lr grid, lengths and init from v1's text "
        "(docs/protocols/fort2019.md §2b); other grids are the protocol's]")
# the paper's own values, v1's full text (docs/protocols/fort2019.md §2b F-d): printed under each
# figure and in its caption, next to ours
PAPER_SAYS = {
    "fig03_stiffness_training":
        "FC MNIST, lr 1e-3: same-class sign stiffness ≈ 1.0 before the overfitting onset "
        "(≈ 3×10⁵ examples, ≈ 5 epochs), then ≈ 0.1–0.25; between-class ≈ 0.15–0.3, falling "
        "toward 0.1",
    "figR01_class_stiffness_matrices":
        "at init the class sign-stiffness matrix has +1 on the diagonal and mostly ≈ −1 off it; "
        "with permuted labels the off-diagonal goes to −1",
    "figR02_cifar100_superclass":
        "CIFAR-100 CNN at iteration 3,200, lr 1e-3: a visibly block-structured 100×100 matrix "
        "(no number given)",
    "figR03_stiffness_vs_lr":
        "lrs 1e-6 … 1e-3 in half decades, FC on MNIST and FMNIST, compared at matched train "
        "losses 0.017, 0.056 and 0.177 (v1's direction, larger lr → larger stiff regions, is "
        "the reverse of v3's, which the claims test; no per-lr value recovered)",
    "figR04_stiffness_vs_distance":
        "v1: ξ = first zero crossing of binned val–val sign stiffness against cosine distance; "
        "stiff-domain sizes read at train loss 0.1 (no ξ value recovered)",
    "figR05_xi_vs_epoch":
        "v3: the higher the lr, the smaller ξ, and ξ shrinks during training (v1: the reverse "
        "for lr); no ξ value recovered",
}


def caption(stem: str, text: str) -> str:
    """The caption with the figure's "paper says" line (docs/protocols/fort2019.md §2b F-d)."""
    return f"{text} Paper says (v1 full text): {PAPER_SAYS[stem]}." + NOTE


def paper_says(fig: plt.Figure, stem: str, ours: str = "") -> None:
    """The paper's values under the figure, ours beside them where the figure computes them."""
    text = f"paper (v1): {PAPER_SAYS[stem]}" + (f"\nours: {ours}" if ours else "")
    fig.text(0.01, -0.01, text, ha="left", va="top", fontsize=7, wrap=True)


MODES = {"tt": "-", "tv": "--", "vv": ":"}
MEASURES = {"cos": "cosine", "sign": "sign"}
STIFFNESS = ["stiffness_within_cos", "stiffness_between_cos", "stiffness_within_sign",
             "stiffness_between_sign"]


def epoch_axis(ax: plt.Axes) -> None:
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlabel("epoch")


def _shade_overfitting(ax: plt.Axes, start: float, end: float) -> None:
    ax.axvspan(start, end, color="orange", alpha=0.2, lw=0)


def first_runs(inputs: FigureInputs):
    """The first E1 run (lowest seed) of every configuration: FC, CNN, ResNet20 per dataset,
    plumbing runs last."""
    runs = e1_runs(inputs.runs, plumbing=True)
    order = runs.assign(plumbing=runs["experiment"].str.endswith("_plumbing"),
                        data=runs["config"].str.split().str[0],
                        arch=runs["config"].str.split().str[1].map(
                            {"FC": 0, "CNN": 1, "ResNet20": 2}))
    order = order.sort_values(["plumbing", "data", "arch", "seed"])
    return order.groupby("config", sort=False).head(1)


@figures.figure(
    "fig03_stiffness_training",
    caption("fig03_stiffness_training",
    "E1: per configuration (rows), train/val loss and accuracy, then class-balanced S_within "
    "(blue) and S_between (red) for cosine and sign stiffness on tt (solid), tv (dashed) and vv "
    "(dotted) pairs, against epoch; the overfitting zone after e* (lowest val loss) is orange. "
    "Expected: within > between, both falling toward 0 once overfitting starts (C1, C3, C4)."
    + " The smoke ResNet20 row is plumbing (1 epoch)."), (*E1, "e1_resnet20_plumbing"),
    title="stiffness during training, per configuration")
def fig03(inputs: FigureInputs) -> plt.Figure:
    runs = first_runs(inputs)
    star = e_star(inputs.metrics, runs["run_id"])
    fig, axes = plt.subplots(len(runs), 3, figsize=(15, 3.4 * len(runs)), squeeze=False)
    for row, run in zip(axes, runs.itertuples()):
        for split, style in (("train", "-"), ("val", "--")):
            table = curves(inputs.metrics, [run.run_id], split,
                           ["checkpoint_loss", "checkpoint_accuracy"])
            row[0].plot(table["epoch"], table["checkpoint_loss"], "k" + style,
                        label=f"{split} loss")
            twin = row[0].twinx()
            twin.plot(table["epoch"], table["checkpoint_accuracy"], "g" + style, alpha=0.6)
            twin.set_ylim(0, 1.02)
            twin.grid(False)
        row[0].set(ylabel=f"{run.config}\nloss (acc. green)")
        row[0].legend(fontsize=7)
        for ax, measure in zip(row[1:], ("cos", "sign")):
            for mode, style in MODES.items():
                table = curves(inputs.metrics, [run.run_id], mode, STIFFNESS)
                ax.plot(table["epoch"], table[f"stiffness_within_{measure}"], "C0" + style,
                        label=f"within {mode}")
                ax.plot(table["epoch"], table[f"stiffness_between_{measure}"], "C3" + style,
                        label=f"between {mode}")
            ax.axhline(0, color="grey", lw=0.5)
            ax.set(ylabel=f"{MEASURES[measure]} stiffness $S_{{\\mathrm{{{measure}}}}}$")
        for ax in row:
            epoch_axis(ax)
            last = inputs.metrics.loc[inputs.metrics["run_id"] == run.run_id, "epoch"].max()
            _shade_overfitting(ax, star[run.run_id], last)
        row[1].legend(fontsize=6, ncol=2)
    fig.tight_layout()
    first = runs.iloc[0]
    paper_says(fig, "fig03_stiffness_training",
                f"{first.config} (first row), vv: "
                + _sign_levels(inputs, first.run_id, float(star[first.run_id])))
    return fig


def _sign_levels(inputs: FigureInputs, run_id: str, best: float) -> str:
    """Our numbers to hold against v1's fig03 values: mean sign stiffness over the checkpoints
    after init and up to e*, and at the last checkpoint, same-class and between-class."""
    table = curves(inputs.metrics, [run_id], "vv", STIFFNESS).sort_values("epoch")
    early = table[(table["epoch"] > 0) & (table["epoch"] <= best)]
    within, between = "stiffness_within_sign", "stiffness_between_sign"
    return (f"same-class sign stiffness {early[within].mean():.2f} up to e* = epoch {best:.3g}, "
            f"{table[within].iloc[-1]:.2f} at the end; between-class "
            f"{early[between].mean():.2f} → {table[between].iloc[-1]:.2f}")


@figures.figure(
    "figR01_class_stiffness_matrices",
    caption("figR01_class_stiffness_matrices",
    "E1 (first configuration): class stiffness matrices C_cos (top) and C_sign (bottom) on the "
    "val-val probe at four checkpoints (initialization, mid-training, e*, last) of the primary "
    "Glorot-uniform init, then at initialization of the PyTorch-default init variant (protocol "
    "§2b F-c) where it ran; the footer gives the mean diagonal / off-diagonal C_sign at init of "
    "both. Expected: a dominant diagonal that fades after overfitting (C2)."), E1,
    title="class stiffness matrices during training",
    regenerates="reconstruction, v1 Fig. 6 per the v1 blog")
def fig_r01(inputs: FigureInputs) -> plt.Figure:
    run = first_runs(inputs).iloc[0]
    steps = sorted(inputs.metrics.loc[inputs.metrics["run_id"] == run.run_id, "step"].unique())
    epochs = inputs.metrics[inputs.metrics["run_id"] == run.run_id].groupby("step")["epoch"].first()
    best = e_star(inputs.metrics, [run.run_id]).iloc[0]
    best_step = int(epochs.index[np.argmin(np.abs(epochs.to_numpy() - best))])
    panels = [(run.run_id, step, f"epoch {epochs[step]:.3g}")
              for step in sorted({steps[0], steps[len(steps) // 3], best_step, steps[-1]})]
    variant = _variant_run(inputs, run.config)
    # docs/protocols/fort2019.md §2b F-c: the at-init matrix of the PyTorch-default init
    if variant is not None:
        first = int(inputs.metrics.loc[inputs.metrics["run_id"] == variant, "step"].min())
        panels.append((variant, first, "init, PyTorch default"))
    fig, axes = plt.subplots(2, len(panels), figsize=(3.6 * len(panels), 6.6), squeeze=False)
    for column, (run_id, step, label) in enumerate(panels):
        for row, measure in enumerate(("cos", "sign")):
            ax = axes[row, column]
            sns.heatmap(class_matrix(inputs.metrics, run_id, step, measure), ax=ax, vmin=-1,
                        vmax=1, cmap="RdBu_r", square=True, cbar=column == len(panels) - 1)
            ax.set(title=f"C_{measure}, {label}", xlabel="class (val)", ylabel="class (val)")
    fig.suptitle(f"{run.config} (Glorot-uniform init)")
    fig.tight_layout()
    ours = [f"at init C_sign diagonal / off-diagonal mean "
            f"{_diagonal_split(class_matrix(inputs.metrics, run.run_id, steps[0], 'sign'))} "
            "(Glorot-uniform, zero biases)"]
    if variant is not None:
        ours.append(_diagonal_split(class_matrix(inputs.metrics, variant, panels[-1][1], "sign"))
                    + " (PyTorch default)")
    paper_says(fig, "figR01_class_stiffness_matrices", "; ".join(ours))
    return fig


def _variant_run(inputs: FigureInputs, config: str) -> str | None:
    """The first PyTorch-init variant run of ``config`` (any configuration if it has none)."""
    runs = e1_runs(inputs.runs, variants=True)
    runs = runs[runs["variant"]].sort_values("seed")
    if runs.empty:
        return None
    same = runs[runs["config"] == config + VARIANT_LABEL]
    return str((same if len(same) else runs)["run_id"].iloc[0])


def _diagonal_split(matrix: np.ndarray) -> str:
    """'+d / +o': the mean diagonal and mean off-diagonal entry of a class matrix."""
    off = ~np.eye(len(matrix), dtype=bool)
    return f"{np.nanmean(np.diag(matrix)):+.2f} / {np.nanmean(matrix[off]):+.2f}"


@figures.figure(
    "figR02_cifar100_superclass",
    caption("figR02_cifar100_superclass",
    "E3: the val-val class stiffness matrix C_cos at e*, classes ordered by super-class, blocks "
    "of one super-class outlined; Δ_super and its permutation p in the title. At smoke scale the "
    "data is a synthetic hierarchy (4 super-classes × 5 classes), plumbing only: the structure "
    "is built into the generator (C10/C11 are paper scale only)."), E3,
    title="class stiffness ordered by CIFAR-100 super-class")
def fig_r02(inputs: FigureInputs) -> plt.Figure:
    runs = experiment_runs(inputs.runs, "e3_")
    runs = runs[np.isclose(runs["lr"], 1e-3)].sort_values(["config", "seed"]).groupby(
        "config").head(1)
    if runs.empty:  # cpu scale: E3 has no cpu block (CIFAR-100 and a GPU)
        fig, ax = plt.subplots(figsize=(7, 3))
        ax.text(0.5, 0.5, "E3 is not run at this scale\n(paper scale only: needs CIFAR-100 "
                "and a GPU)", ha="center", va="center")
        ax.set_axis_off()
        return fig
    fig, axes = plt.subplots(1, len(runs), figsize=(6 * len(runs), 5.4), squeeze=False)
    star = e_star(inputs.metrics, runs["run_id"])
    for ax, run in zip(axes[0], runs.itertuples()):
        rows = inputs.metrics[inputs.metrics["run_id"] == run.run_id]
        step = int(rows.loc[(rows["epoch"] - star[run.run_id]).abs().idxmin(), "step"])
        matrix = class_matrix(inputs.metrics, run.run_id, step, "cos")
        at = rows[(rows["step"] == step) & (rows["split"] == "vv")].set_index("metric")["value"]
        superclass = np.array([at.get(f"superclass_of_{c}", 0.0) for c in range(len(matrix))])
        order = np.argsort(superclass, kind="stable")  # CIFAR-100 numbers fine classes A-Z
        sns.heatmap(matrix[np.ix_(order, order)], ax=ax, cmap="RdBu_r", center=0, square=True)
        edges = [0, *np.flatnonzero(np.diff(superclass[order])) + 1, len(matrix)]
        for edge in edges:
            ax.axhline(edge, color="k", lw=0.8)
            ax.axvline(edge, color="k", lw=0.8)
        name = run.config.replace("_", " ")  # a dataset id: words on the figure
        ax.set(title=f"{name}: Δ_super = {at.get('superclass_delta', np.nan):.3f}, "
                     f"p = {at.get('superclass_p', np.nan):.3g}", xlabel="class (by super-class)",
               ylabel="class (by super-class)")
    fig.tight_layout()
    paper_says(fig, "figR02_cifar100_superclass",
                "C10, C11 in the claims below (paper scale only)")
    return fig
