"""loukas2021 figures (spec §5), one function per figure; each reads tables only.

The official outputs these reconstruct are named in each caption. Mean ± std are over seeds,
computed per run first (never on repeat-averaged biases, pitfall P14).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from trainlens.plotting import FigureInputs, FigureSet, categorical
from trainlens.summaries import trajectory as traj

figures = FigureSet("loukas2021")
E1A = ("e1a",)


def _with_setting(inputs: FigureInputs, rows: pd.DataFrame, experiment: str,
                  column: str) -> pd.DataFrame:
    """Rows of ``experiment`` with the runs-table ``column`` (the frequency, or the corruption
    level p) in column ``f``, the setting that ``_band`` and the violins colour by, and the
    batch size next to it."""
    runs = inputs.runs.set_index("run_id")
    rows = rows[rows["run_id"].isin(runs.index[runs["experiment"] == experiment])]
    rows = rows.assign(f=rows["run_id"].map(runs[column]),
                       batch_size=rows["run_id"].map(runs["train_batch_size"]))
    return categorical(rows, "f")


def _with_frequency(inputs: FigureInputs, rows: pd.DataFrame,
                    experiment: str = "e1a") -> pd.DataFrame:
    return _with_setting(inputs, rows, experiment, "data_frequency")


def _with_corruption(inputs: FigureInputs, rows: pd.DataFrame, experiment: str) -> pd.DataFrame:
    return _with_setting(inputs, rows, experiment, "data_label_corruption")


def _band(ax: plt.Axes, frame: pd.DataFrame, x: str, y: str, smooth: bool = False,
          title: str = "frequency", symbol: str = "f") -> None:
    """Per setting (column ``f``: the frequency, or p, or the architecture): mean over seeds
    (raw, faint, when ``smooth``), its EMA, and a ± std band."""
    palette = sns.color_palette("viridis", len(frame["f"].cat.categories))
    for color, (f, rows) in zip(palette, frame.groupby("f", observed=True), strict=True):
        stats = rows.groupby(x)[y].agg(["mean", "std"]).sort_index()
        mean = stats["mean"].to_numpy()
        line = traj.ema(mean) if smooth else mean
        if smooth:
            ax.plot(stats.index, mean, color=color, alpha=0.3, linewidth=0.7)
        ax.plot(stats.index, line, color=color, label=f"{symbol} = {f}" if symbol else f)
        ax.fill_between(stats.index, line - stats["std"].fillna(0), line + stats["std"].fillna(0),
                        color=color, alpha=0.15, linewidth=0)
    ax.legend(title=title)


@figures.figure("figR01_mlp_trajectory",
                "E1a: per-epoch trajectory T_k = mean normalised bias step τ_t (§4.5) vs epoch; "
                "faint: mean over seeds, solid: its EMA (w = 0.95), band: ± std over seeds. "
                "Official output: experiment_1/mlp/trajectory.pdf.", E1A)
def trajectory(inputs: FigureInputs) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(6, 4))
    _band(ax, _with_frequency(inputs, traj.per_epoch(inputs.metrics, "trajectory")), "epoch",
          "value", smooth=True)
    ax.set(xlabel="epoch", ylabel="trajectory per epoch $T_k$")
    return fig


@figures.figure("figR02_mlp_total_trajectory",
                "E1a: total trajectory Σ_{k≤K} T_k vs epoch K, mean ± std over seeds. "
                "Official output: experiment_1/mlp/integral_trajectory.pdf.", E1A)
def total_trajectory(inputs: FigureInputs) -> plt.Figure:
    rows = _with_frequency(inputs, traj.per_epoch(inputs.metrics, "trajectory"))
    rows = rows.assign(total=rows.groupby("run_id")["value"].cumsum())
    fig, ax = plt.subplots(figsize=(6, 4))
    _band(ax, rows, "epoch", "total")
    ax.set(xlabel="epoch", ylabel="total trajectory")
    return fig


def _violin(inputs: FigureInputs, metric: str, ylabel: str, log: bool) -> plt.Figure:
    rows = _with_frequency(inputs, traj.per_epoch(inputs.metrics, metric))
    last = rows.groupby("run_id", group_keys=False).tail(10)  # last 10 epochs, pooled over seeds
    fig, ax = plt.subplots(figsize=(5, 4))
    sns.violinplot(data=last, x="f", y="value", hue="f", palette="viridis", legend=False,
                   cut=0, ax=ax, log_scale=log)
    ax.set(xlabel="frequency f", ylabel=ylabel)
    return fig


@figures.figure("figR03_mlp_variance",
                "E1a: update variance V_k = mean ‖b_t − b̄_k‖²/η² per epoch (§4.6), last 10 "
                "epochs of every run pooled over seeds, log scale. "
                "Official output: experiment_1/mlp/variance.pdf.", E1A)
def variance(inputs: FigureInputs) -> plt.Figure:
    return _violin(inputs, "update_variance", "update variance $V_k$", log=True)


@figures.figure("figR04_mlp_distance",
                "E1a: distance of b1 from its true initialisation ‖b_t − b_0‖ (§4.7), per-epoch "
                "means over the last 10 epochs, pooled over seeds. The official plot measures "
                "from the bias after step 1 (P15) and pools per step. "
                "Official output: experiment_1/mlp/distance.pdf.", E1A)
def distance(inputs: FigureInputs) -> plt.Figure:
    fig = _violin(inputs, "distance_from_init", "distance from init $d_t$", log=False)
    fig.axes[0].set_ylim(-0.1, 1.1)
    return fig


@figures.figure("figR05_mlp_lipschitz",
                "E1a: Lipschitz constant at the visited sample λ(x_t; θ_{t−1}) = τ_t, EMA "
                "(w = 0.95) per run, mean ± std over seeds, vs iteration. The official plot "
                "evaluates λ after the step (P10) and averages over repeats first (P14). "
                "Official output: experiment_1/mlp/lipschitz.pdf.", E1A)
def lipschitz(inputs: FigureInputs) -> plt.Figure:
    rows = _with_frequency(inputs, traj.per_epoch(inputs.metrics, "lipschitz_visited_ema"))
    fig, ax = plt.subplots(figsize=(6, 4))
    _band(ax, rows, "step", "value")
    ax.set(xlabel="iteration", ylabel="λ at the visited sample (EMA)")
    return fig


@figures.figure("figR06_mlp_losses",
                "E1a: train loss (mean of per-step losses in the epoch), test loss (end of "
                "epoch), and mean absolute errors, mean ± std over seeds. Errors are per-epoch "
                "means, not the official cumulative running means (P16). "
                "Official outputs: experiment_1/mlp/{train,test}_{loss,error}.pdf.", E1A)
def losses(inputs: FigureInputs) -> plt.Figure:
    fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharex=True)
    panels = [("loss", "train", "train loss"), ("loss", "test", "test loss"),
              ("abs_error", "train", "train error"), ("abs_error", "test", "test error")]
    for ax, (metric, split, label) in zip(axes.flat, panels, strict=True):
        _band(ax, _with_frequency(inputs, traj.per_epoch(inputs.metrics, metric, split)),
              "epoch", "value")
        ax.set(xlabel="epoch", ylabel=label)
        ax.set_ylim(bottom=0)
    return fig


@figures.figure("figX01_steadiness_far_lipschitz",
                "E1a: steadiness of b1 against complexity far from the data, one point per run: "
                "update variance V (left) and τ (right), both over the last 10 epochs, vs the "
                "mean λ on the far-field grid [−3, 3]² \\ [−1, 1]² embedded with the run's Q "
                "(§4.4) at the final checkpoint.", E1A)
def steadiness_far_lipschitz(inputs: FigureInputs) -> plt.Figure:
    runs = inputs.runs.set_index("run_id")
    frame = pd.DataFrame({
        "V": traj.last_epochs_mean(inputs.metrics, "update_variance", 10),
        "tau": traj.last_epochs_mean(inputs.metrics, "trajectory", 10),
        "far": traj.final_value(inputs.metrics, "far_field_lipschitz_mean", "far_field"),
    }).join(runs["data_frequency"].rename("f"))
    frame = categorical(frame, "f")
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, x, label in ((axes[0], "V", "update variance $V$ (last 10 epochs)"),
                         (axes[1], "tau", "τ (last 10 epochs)")):
        sns.scatterplot(data=frame, x=x, y="far", hue="f", palette="viridis", s=60, ax=ax)
        ax.set(xlabel=label, ylabel="far-field λ (mean)")
    axes[0].set_xscale("log")
    return fig


@figures.figure("figR10_batch_size",
                "E4: minibatches of 16 (top) and 32 (bottom) on the E1a task: train loss and test "
                "loss per epoch, and the EMA (w = 0.95) of the per-step τ_t = ‖Δb_t‖/(η·mean|ℓ'|) "
                "(spec §4.1 for B > 1, ≤ the largest λ in the batch; the paper's B > 1 "
                "statement is not known), mean ± std over seeds. "
                "Official outputs: experiment_4/{train_loss,test_loss,trajectory}.pdf.", ("e4",))
def batch_size(inputs: FigureInputs) -> plt.Figure:
    panels = [("loss", "train", "epoch", "train loss"), ("loss", "test", "epoch", "test loss"),
              ("lipschitz_visited_ema", "train", "step", "τ per step (EMA)")]
    sizes = sorted(inputs.runs["train_batch_size"].unique())
    fig, axes = plt.subplots(len(sizes), 3, figsize=(15, 3.8 * len(sizes)), squeeze=False,
                             layout="constrained")
    for row, size in zip(axes, sizes, strict=True):
        for ax, (metric, split, x, label) in zip(row, panels, strict=True):
            rows = _with_frequency(inputs, traj.per_epoch(inputs.metrics, metric, split), "e4")
            _band(ax, rows[rows["batch_size"] == size], x, "value")
            ax.set(xlabel="iteration" if x == "step" else x, ylabel=f"{label}, bs {size}")
    return fig


@figures.figure("fig06_linear_regions",
                "E2 (the paper's Fig. 6, Theorem 2): the latent plane [−1, 1]² of the E2 model, "
                "embedded with its training Q. Panels: ground truth; the network's output; the "
                "Lipschitz constant λ of each linear region; the LP bound of Theorem 2 for "
                "regions that hold no training point (grey: regions with training points; "
                "white: infeasible, bound = ∞); the number of training regions the bound "
                "combines (nonzeros of α). Official outputs: experiment_2/{ground_truth, "
                "output_surface, lipschitz_surface, linear_combinations_gradient, "
                "linear_combinations_distinct}.png.", ("e2",))
def linear_regions(inputs: FigureInputs) -> plt.Figure:
    regions = inputs.regions
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
    """figR01-R04 against the corruption level p, plus τ_last10 under variants (b) and (c)."""
    fig, axes = plt.subplots(2, 3, figsize=(15, 8), layout="constrained")
    tau = _with_corruption(inputs, traj.per_epoch(inputs.metrics, "trajectory"), experiment)
    _band(axes[0, 0], tau, "epoch", "value", smooth=True, title="corruption", symbol="p")
    axes[0, 0].set(xlabel="epoch", ylabel="trajectory per epoch $T_k$ (primary τ)")
    tau = tau.assign(total=tau.groupby("run_id")["value"].cumsum())
    _band(axes[0, 1], tau, "epoch", "total", title="corruption", symbol="p")
    axes[0, 1].set(xlabel="epoch", ylabel="total trajectory")
    panels = [(axes[0, 2], "update_variance", "update variance $V_k$ (last 10 epochs)"),
              (axes[1, 0], "distance_from_init", "distance from init $d$ (last 10 epochs)"),
              (axes[1, 1], "trajectory_official_cnn", "$T_k$, variant (b): official ε"),
              (axes[1, 2], "trajectory_raw", "$T_k$, variant (c): raw Σ‖Δb‖/η")]
    for ax, metric, label in panels:
        rows = _with_corruption(inputs, traj.per_epoch(inputs.metrics, metric), experiment)
        last = rows.groupby("run_id", group_keys=False).tail(10)
        sns.violinplot(data=last, x="f", y="value", hue="f", palette="viridis", legend=False,
                       cut=0, ax=ax)
        ax.set(xlabel="label corruption p (flip rate p/2)", ylabel=label)
    return fig


@figures.figure("figR07_cnn_dynamics",
                "E1b: the loukas2021 CNN under label corruption p (masked labels redrawn from "
                "{0, 1}, flip rate p/2): per-epoch trajectory T_k (primary τ, BCE/2 gradient "
                "factor |p − y|/2) and its total vs epoch, mean ± std over seeds; last-10-epoch "
                "update variance, distance from init, and T_k under variant (b), the official "
                "ε = |1 − p − y| (P13), and (c), the raw Σ‖Δb‖/η. Smoke scale: a CNN sized for "
                "8x8 digits 0 vs 5 (not the paper's 32x32 CIFAR-10 model). Official outputs: "
                "experiment_1/cnn/{trajectory, integral_trajectory, variance, distance}.pdf.",
                ("e1b",))
def cnn_dynamics(inputs: FigureInputs) -> plt.Figure:
    return _corruption_dynamics(inputs, "e1b")


@figures.figure("figX02_corruption_mlp",
                "E1c (suite addition, the CPU analogue of figR07): E1a's MLP on binary sinusoid "
                "targets 1[cos·cos > 0] at f = 0.25, training labels corrupted with the E1b rule "
                "(flip rate p/2), trained into the memorisation regime. Panels as figR07; "
                "variant (b) reads the MSE output as the probability p.", ("e1c",))
def corruption_mlp(inputs: FigureInputs) -> plt.Figure:
    return _corruption_dynamics(inputs, "e1c")


@figures.figure("figR08_cnn_losses",
                "E1b: train loss (mean of the per-step BCE/2 losses in the epoch, on the "
                "corrupted labels), clean test loss and 0/1 test error at the end of each epoch, "
                "per corruption level p, mean ± std over seeds; dashed: chance BCE/2 = ln2/2. "
                "Official outputs: experiment_1/cnn/{train,test}_{loss,error}.pdf.", ("e1b",))
def cnn_losses(inputs: FigureInputs) -> plt.Figure:
    fig, axes = plt.subplots(1, 3, figsize=(15, 4), layout="constrained")
    panels = [("loss", "train", "train loss (BCE/2)"), ("loss", "test", "test loss (BCE/2)"),
              ("zero_one_error", "test", "test error (0/1)")]
    for ax, (metric, split, label) in zip(axes, panels, strict=True):
        rows = _with_corruption(inputs, traj.per_epoch(inputs.metrics, metric, split), "e1b")
        _band(ax, rows, "epoch", "value", title="corruption", symbol="p")
        if metric == "loss":
            ax.axhline(np.log(2) / 2, color="grey", linestyle="--", linewidth=0.8)
        ax.set(xlabel="epoch", ylabel=label)
    return fig


@figures.figure("figR09_mnist_architecture",
                "E3: MNIST 3 vs 6, MLP_MNIST vs CNN_MNIST, per window of iterations (100 at "
                "paper scale, 10 at smoke; every window of the run, unlike the official code "
                "which logs only the first 100 iterations of each epoch): mean train loss, full "
                "test loss at the window's end, and mean τ (from the gradient, §4.9), mean ± std "
                "over seeds. Smoke scale: digits 3 vs 6 upsampled to 28x28, one seed (plumbing "
                "only). Official outputs: experiment_3/{train_loss, test_loss, trajectory}.pdf.",
                ("e3_mlp", "e3_cnn"))
def mnist_architecture(inputs: FigureInputs) -> plt.Figure:
    runs = inputs.runs.set_index("run_id")
    names = {"e3_mlp": "MLP_MNIST", "e3_cnn": "CNN_MNIST"}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4), layout="constrained")
    panels = [("window_loss", "train", "train loss (window mean)"),
              ("window_loss", "test", "test loss"),
              ("window_trajectory", "train", "τ (window mean)")]
    for ax, (metric, split, label) in zip(axes, panels, strict=True):
        rows = traj.per_epoch(inputs.metrics, metric, split)
        rows = rows[rows["run_id"].isin(runs.index[runs["experiment"].isin(list(names))])]
        rows = categorical(rows.assign(f=rows["run_id"].map(runs["experiment"]).map(names)), "f")
        window = rows.groupby("run_id")["step"].transform("rank")  # 1, 2, ... per run
        _band(ax, rows.assign(window=window), "window", "value", title="architecture", symbol="")
        ax.set(xlabel="window", ylabel=label)
    return fig
