"""loukas2021 figures of the linear regions (E2) and of the classifiers (E1b, E1c, E3;
docs/protocols/loukas2021.md §5): fig06 and figR07-figR09, one function per figure, registered on
the set that figures_mlp.py begins (its module docstring states how every figure is drawn)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from analysis.loukas2021 import stats as traj
from analysis.loukas2021.figures_mlp import (
    band,
    figures,
    final_rows,
    last10_rows,
    violin,
    with_corruption,
)
from trainlens.plotting import FigureInputs, categorical


@figures.figure("fig06_linear_regions",
                "E2 (arXiv v2's Fig. 6, Theorem 2; not in the submission): the latent plane "
                "[−1, 1]² of the E2 model, embedded isometrically with its training Q. "
                "Panels: ground truth; the network's output; the "
                "Lipschitz constant λ of each linear region; the LP bound of Theorem 2 for "
                "regions that hold no training point (grey: regions with training points; "
                "white: infeasible, bound = ∞); the number of training regions the bound "
                "combines (nonzeros of α). Official outputs: experiment_2/{ground_truth, "
                "output_surface, lipschitz_surface, linear_combinations_gradient, "
                "linear_combinations_distinct}.png.", ("e2",),
                title="linear regions and Theorem 2's Lipschitz bound",
                regenerates="arXiv v2 Fig. 6")
def linear_regions(inputs: FigureInputs) -> plt.Figure:
    regions = inputs.tables["regions"]
    run = inputs.runs[inputs.runs["experiment"] == "e2"].iloc[0]
    grid = regions[regions["run_id"] == run["run_id"]].sort_values(["u1", "u2"])
    n = int(round(np.sqrt(len(grid))))
    f = float(run["data_frequency"])

    def image(column: str) -> np.ndarray:
        return grid[column].to_numpy(dtype=float).reshape(n, n).T  # rows: u2, columns: u1

    u1 = grid["u1"].to_numpy().reshape(n, n).T
    u2 = grid["u2"].to_numpy().reshape(n, n).T
    bound = np.where(image("lp_bound") == np.inf, np.nan, image("lp_bound"))
    off = ~grid["in_training_region"].to_numpy().reshape(n, n).T
    panels = [("ground truth", np.cos(2 * np.pi * f * u1) * np.cos(2 * np.pi * f * u2), "coolwarm"),
              ("output", image("output"), "coolwarm"),
              ("λ per region", image("lipschitz"), "viridis"),
              ("LP bound (off-training regions)", np.where(off, bound, np.nan), "viridis"),
              ("nonzeros of α", np.where(off & np.isfinite(bound), image("alpha_nonzeros"),
                                         np.nan), "magma")]
    fig, axes = plt.subplots(1, 5, figsize=(22, 4.4), layout="constrained")
    for ax, (title, values, cmap) in zip(axes, panels, strict=True):
        if title.startswith("LP") or title.startswith("nonzeros"):
            ax.imshow(np.where(off, np.nan, 1.0), extent=(-1, 1, -1, 1), origin="lower",
                      cmap="Greys", vmin=0, vmax=2)
        shown = ax.imshow(values, extent=(-1, 1, -1, 1), origin="lower", cmap=cmap)
        fig.colorbar(shown, ax=ax, shrink=0.8)
        ax.set(title=title, xlabel="$u_1$", ylabel="$u_2$")
    return fig


def _corruption_dynamics(inputs: FigureInputs, experiment: str) -> plt.Figure:
    """figR01-R04 against the corruption level p, plus τ_last10 under the labelled variants."""
    fig, axes = plt.subplots(2, 4, figsize=(20, 8), layout="constrained")
    tau = with_corruption(inputs, traj.per_epoch(inputs.metrics, "trajectory"), experiment)
    band(axes[0, 0], tau, "epoch", "value", smooth=True, title="corruption", symbol="p")
    axes[0, 0].set(xlabel="epoch", ylabel="$T_k$ = epoch sum of τ (paper's ε)")
    tau = tau.assign(total=tau.groupby("run_id")["value"].cumsum())
    band(axes[0, 1], tau, "epoch", "total", title="corruption", symbol="p")
    axes[0, 1].set(xlabel="epoch", ylabel="total trajectory")
    xlabel = "label corruption p (flip rate p/2)"
    window = with_corruption(inputs, traj.per_epoch(inputs.metrics, "update_variance"),
                              experiment)
    violin(axes[0, 2], final_rows(window), "variance $V$ (Corollary 2, last 10 epochs)", False,
            xlabel)
    distance = ("distance from init $d$ (Corollary 3; appendix, not a claim)"
                if experiment == "e1b" else "distance from init $d$ (Corollary 3)")
    panels = [(axes[0, 3], "update_variance_epoch", "per-epoch $V_k/η^2$ (variant)"),
              (axes[1, 0], "distance_from_init", distance),
              (axes[1, 1], "trajectory_logit", "$T_k$, variant: logit λ (|∂ℓ/∂z|)"),
              (axes[1, 2], "trajectory_official_cnn", "$T_k$, variant (b): official ε"),
              (axes[1, 3], "trajectory_raw", "$T_k$, variant (c): raw Σ‖Δb‖/η")]
    for ax, metric, label in panels:
        rows = with_corruption(inputs, traj.per_epoch(inputs.metrics, metric), experiment)
        if rows.empty:  # MSE (E1c): the output is the logit, no separate variant
            ax.set_axis_off()
            ax.text(0.5, 0.5, f"{label}:\nnot drawn for MSE (the output is the logit,\n"
                    "so there is no separate logit variant)", ha="center", va="center",
                    fontsize=8, transform=ax.transAxes)
            continue
        violin(ax, last10_rows(rows), label, False, xlabel)
    return fig


@figures.figure("figR07_cnn_dynamics",
                "E1b (submission Figs 1e trajectory, 2c variance): the loukas2021 CNN under label "
                "corruption p (masked labels redrawn from {0, 1}, flip rate p/2), unhalved BCE: "
                "per-epoch trajectory T_k (epoch sum of the primary τ with the paper's "
                "ε = 1/|1 − y − p|, i.e. ‖∇ₓσ(z)‖ at the visited sample) and its total vs epoch, "
                "mean ± std over seeds; Corollary 2's variance over the last 10 epochs; the "
                "earlier per-epoch V_k/η²; the distance from init (appendix B.2 only: the paper "
                "calls it not applicable to classification, so it is not a claim); T_k over the "
                "last 10 epochs with the logit's λ (the suite's earlier τ), variant (b), the "
                "official ε = |1 − p − y| (P13, the reciprocal of the paper's), and (c), the raw "
                "Σ‖Δb‖/η. Smoke scale: a CNN sized for 8x8 digits 0 vs 5 (not the paper's 32x32 "
                "CIFAR-10 model). Official outputs: experiment_1/cnn/{trajectory, "
                "integral_trajectory, variance, distance}.pdf.", ("e1b",),
                title="CNN bias dynamics under label corruption",
                regenerates="submission Figs 1e, 2c")
def cnn_dynamics(inputs: FigureInputs) -> plt.Figure:
    return _corruption_dynamics(inputs, "e1b")


@figures.figure("figX02_corruption_mlp",
                "E1c (suite addition, no submission panel; the CPU analogue of figR07): E1a's MLP "
                "on binary sinusoid targets 1[cos·cos > 0] at f = 0.25 (isometric embedding), "
                "training labels corrupted with the E1b rule (flip rate p/2), trained into the "
                "memorisation regime. Panels as figR07 (MSE: no separate logit variant); the "
                "distance is a criterion here (Corollary 3 is stated for MSE); variant (b) reads "
                "the MSE output as the probability p.", ("e1c",),
                title="MLP bias dynamics under label corruption")
def corruption_mlp(inputs: FigureInputs) -> plt.Figure:
    return _corruption_dynamics(inputs, "e1c")


@figures.figure("figR08_cnn_losses",
                "E1b (submission Figs 1d train loss, 1f test loss): train loss (mean of the "
                "per-step BCE losses in the epoch, on the corrupted labels; the paper's BCE, not "
                "halved), clean test loss and 0/1 test error at the end of each epoch, per "
                "corruption level p, mean ± std over seeds; dashed: chance BCE = ln 2. "
                "Official outputs: experiment_1/cnn/{train,test}_{loss,error}.pdf.", ("e1b",),
                title="CNN losses and test error under label corruption",
                regenerates="submission Figs 1d, 1f")
def cnn_losses(inputs: FigureInputs) -> plt.Figure:
    fig, axes = plt.subplots(1, 3, figsize=(15, 4), layout="constrained")
    panels = [("loss", "train", "train loss (BCE)"), ("loss", "test", "test loss (BCE)"),
              ("zero_one_error", "test", "test error (0/1)")]
    for ax, (metric, split, label) in zip(axes, panels, strict=True):
        rows = with_corruption(inputs, traj.per_epoch(inputs.metrics, metric, split), "e1b")
        band(ax, rows, "epoch", "value", title="corruption", symbol="p")
        if metric == "loss":
            ax.axhline(np.log(2), color="grey", linestyle="--", linewidth=0.8)
        ax.set(xlabel="epoch", ylabel=label)
    return fig


@figures.figure("figR09_mnist_architecture",
                "E3 (supplementary, no submission panel): MNIST 3 vs 6, MLP_MNIST vs CNN_MNIST, "
                "unhalved BCE, per window of iterations (100 at "
                "paper scale, 10 at smoke; every window of the run, unlike the official code "
                "which logs only the first 100 iterations of each epoch): mean train loss, full "
                "test loss at the window's end, mean τ (from the gradient, §4.9; the paper's ε) "
                "and mean τ with the logit's λ (labelled variant), mean ± std over seeds. "
                "Smoke scale: digits 3 vs 6 upsampled to 28x28, one seed (plumbing only). "
                "Official outputs: experiment_3/{train_loss, test_loss, trajectory}.pdf.",
                ("e3_mlp", "e3_cnn"), title="MNIST MLP vs CNN: losses and trajectory per window",
                regenerates="reconstruction, supplementary, no submission panel")
def mnist_architecture(inputs: FigureInputs) -> plt.Figure:
    runs = inputs.runs.set_index("run_id")
    names = {"e3_mlp": "MLP_MNIST", "e3_cnn": "CNN_MNIST"}
    fig, axes = plt.subplots(1, 4, figsize=(20, 4), layout="constrained")
    panels = [("window_loss", "train", "train loss (window mean)"),
              ("window_loss", "test", "test loss"),
              ("window_trajectory", "train", "τ (window mean, paper's ε)"),
              ("window_trajectory_logit", "train", "τ (window mean, logit variant)")]
    for ax, (metric, split, label) in zip(axes, panels, strict=True):
        rows = traj.per_epoch(inputs.metrics, metric, split)
        rows = rows[rows["run_id"].isin(runs.index[runs["experiment"].isin(list(names))])]
        rows = categorical(rows.assign(f=rows["run_id"].map(runs["experiment"]).map(names)), "f")
        window = rows.groupby("run_id")["step"].transform("rank")  # 1, 2, ... per run
        band(ax, rows.assign(window=window), "window", "value", title="architecture", symbol="")
        ax.set(xlabel="window of iterations (index)", ylabel=label)
    return fig
