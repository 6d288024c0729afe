"""loukas2021 figures (docs/protocols/loukas2021.md §5), one function per figure; each reads
tables only. This file begins the paper's figure set with the MLP figures (E1a, E4: figR01-figR06,
figX01, figR10); figures_regions_classifiers.py continues it.

Each caption names the panel of the paper's NeurIPS submission it regenerates ("submission
Fig. 1b", §2b P-j) or says that it has none, and the official outputs it reconstructs. Mean ± std
are over seeds, computed per run first (never on repeat-averaged biases, pitfall P14). The E1a
figures show the paper's isometric embedding (primary) and the official code's 10·Q (variant)
side by side (§2b P-g).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from analysis.loukas2021 import stats as traj
from trainlens.plotting import FigureInputs, FigureSet, categorical
from trainlens.stats.curves import ema

figures = FigureSet("loukas2021")
E1A = ("e1a", "e1a_scale10")  # the paper's isometric embedding, then the official code's 10·Q
NO_PANEL = "reconstruction, no submission panel"  # an official output only
EMBEDDING = {"e1a": "x = Q[u; 0] (paper, isometric: primary)",
             "e1a_scale10": "x = 10·Q[u; 0] (official code: variant)"}


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


def with_corruption(inputs: FigureInputs, rows: pd.DataFrame, experiment: str) -> pd.DataFrame:
    return _with_setting(inputs, rows, experiment, "data_label_corruption")


def band(ax: plt.Axes, frame: pd.DataFrame, x: str, y: str, smooth: bool = False,
          title: str = "frequency", symbol: str = "f") -> None:
    """Per setting (column ``f``: the frequency, or p, or the architecture): mean over seeds
    (raw, faint, when ``smooth``), its EMA, and a ± std band."""
    palette = sns.color_palette("viridis", len(frame["f"].cat.categories))
    for color, (f, rows) in zip(palette, frame.groupby("f", observed=True), strict=True):
        stats = rows.groupby(x)[y].agg(["mean", "std"]).sort_index()
        mean = stats["mean"].to_numpy()
        line = ema(mean) if smooth else mean
        if smooth:
            ax.plot(stats.index, mean, color=color, alpha=0.3, linewidth=0.7)
        ax.plot(stats.index, line, color=color, label=f"{symbol} = {f}" if symbol else f)
        ax.fill_between(stats.index, line - stats["std"].fillna(0), line + stats["std"].fillna(0),
                        color=color, alpha=0.15, linewidth=0)
    ax.legend(title=title)


def _by_embedding(inputs: FigureInputs, draw, ncols: int = 1, nrows: int = 1,
                  width: float = 6.0, height: float = 4.0) -> plt.Figure:
    """One column block per embedding, side by side (§2b P-g): the paper's isometric
    x = Q[u; 0] (e1a, primary) and the official code's x = 10·Q[u; 0] (e1a_scale10, variant).
    ``draw(axes, experiment)`` fills an (nrows, ncols) block of axes."""
    fig, axes = plt.subplots(nrows, 2 * ncols, figsize=(2 * ncols * width, nrows * height),
                             squeeze=False, layout="constrained")
    for k, experiment in enumerate(E1A):
        block = axes[:, k * ncols:(k + 1) * ncols]
        draw(block, experiment)
        block[0, 0].set_title(EMBEDDING[experiment], fontsize=9, loc="left")
    return fig


@figures.figure("figR01_mlp_trajectory",
                "E1a (submission Fig. 1b): per-epoch bias trajectory T_k = Σ_{t∈epoch k} τ_t, the "
                "epoch sum of the normalised bias steps (§4.5, §2b P-e), vs epoch (top); the "
                "earlier per-epoch mean of τ_t (a labelled variant, ≈ mean λ over the epoch's "
                "samples, bottom). Faint: mean over seeds, solid: its EMA (w = 0.95), band: ± std "
                "over seeds. Left: the paper's isometric embedding x = Q[u; 0] (primary); right: "
                "the official code's x = 10·Q[u; 0] (variant). "
                "Official output: experiment_1/mlp/trajectory.pdf.", E1A,
                title="first-layer-bias trajectory vs epoch, per frequency",
                regenerates="submission Fig. 1b")
def trajectory(inputs: FigureInputs) -> plt.Figure:
    def draw(axes: np.ndarray, experiment: str) -> None:
        for ax, metric, label in ((axes[0, 0], "trajectory", "$T_k$ (epoch sum)"),
                                  (axes[1, 0], "trajectory_mean", "epoch mean of τ (variant)")):
            band(ax, _with_frequency(inputs, traj.per_epoch(inputs.metrics, metric),
                                      experiment), "epoch", "value", smooth=True)
            ax.set(xlabel="epoch", ylabel=label)

    return _by_embedding(inputs, draw, nrows=2)


@figures.figure("figR02_mlp_total_trajectory",
                "E1a (no submission panel): total trajectory Σ_{k≤K} T_k = Σ_t τ_t vs epoch K, "
                "mean ± std over seeds; left: isometric x = Q[u; 0] (primary), right: the "
                "official x = 10·Q[u; 0] (variant). "
                "Official output: experiment_1/mlp/integral_trajectory.pdf.", E1A,
                title="total first-layer-bias trajectory vs epoch", regenerates=NO_PANEL)
def total_trajectory(inputs: FigureInputs) -> plt.Figure:
    def draw(axes: np.ndarray, experiment: str) -> None:
        rows = _with_frequency(inputs, traj.per_epoch(inputs.metrics, "trajectory"), experiment)
        rows = rows.assign(total=rows.groupby("run_id")["value"].cumsum())
        band(axes[0, 0], rows, "epoch", "total")
        axes[0, 0].set(xlabel="epoch", ylabel="total trajectory")

    return _by_embedding(inputs, draw)


def violin(ax: plt.Axes, rows: pd.DataFrame, ylabel: str, log: bool,
            xlabel: str = "frequency f") -> None:
    sns.violinplot(data=rows, x="f", y="value", hue="f", palette="viridis", legend=False,
                   cut=0, ax=ax, log_scale=log, dodge=False)
    ax.set(xlabel=xlabel, ylabel=ylabel)


def last10_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The last 10 epochs of every run, pooled over seeds."""
    return rows.groupby("run_id", group_keys=False).tail(10)


def final_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Each run's last epoch (Corollary 2's V over the window of the last 10 epochs)."""
    return rows.groupby("run_id", group_keys=False).tail(1)


@figures.figure("figR03_mlp_variance",
                "E1a (submission Fig. 2a): Corollary 2's variance V = avg_{t∈T} ‖b_t − avg_{t∈T} "
                "b_t‖² over one window T of the last 10 epochs, no division by η² (§2b P-f), one "
                "value per run, pooled over seeds (top); the earlier per-epoch V_k = mean "
                "‖b_t − b̄_k‖²/η² over the last 10 epochs (a labelled variant, bottom); log scale. "
                "Left: isometric x = Q[u; 0] (primary), right: the official x = 10·Q[u; 0] "
                "(variant). Official output: experiment_1/mlp/variance.pdf.", E1A,
                title="variance of the first-layer bias per frequency",
                regenerates="submission Fig. 2a")
def variance(inputs: FigureInputs) -> plt.Figure:
    def draw(axes: np.ndarray, experiment: str) -> None:
        window = _with_frequency(inputs, traj.per_epoch(inputs.metrics, "update_variance"),
                                 experiment)
        violin(axes[0, 0], final_rows(window), "variance $V$ (Corollary 2)", log=True)
        pooled = _with_frequency(inputs, traj.per_epoch(inputs.metrics, "update_variance_epoch"),
                                 experiment)
        violin(axes[1, 0], last10_rows(pooled), "per-epoch $V_k/η^2$ (variant)", log=True)

    return _by_embedding(inputs, draw, nrows=2, width=5.0)


@figures.figure("figR04_mlp_distance",
                "E1a (submission Fig. 2b): distance of b1 from its true initialisation "
                "‖b_t − b_0‖ (Corollary 3, §4.7), per-epoch means over the last 10 epochs, pooled "
                "over seeds. The official plot measures from the bias after step 1 (P15) and "
                "pools per step. Left: isometric x = Q[u; 0] (primary), right: the official "
                "x = 10·Q[u; 0] (variant). Official output: experiment_1/mlp/distance.pdf.", E1A,
                title="distance of the first-layer bias from init per frequency",
                regenerates="submission Fig. 2b")
def distance(inputs: FigureInputs) -> plt.Figure:
    def draw(axes: np.ndarray, experiment: str) -> None:
        rows = _with_frequency(inputs, traj.per_epoch(inputs.metrics, "distance_from_init"),
                               experiment)
        violin(axes[0, 0], last10_rows(rows), "distance from init $d_t$", log=False)
        axes[0, 0].set_ylim(-0.1, 1.1)

    return _by_embedding(inputs, draw, width=5.0)


@figures.figure("figR05_mlp_lipschitz",
                "E1a (no submission panel): Lipschitz constant at the visited sample "
                "λ(x_t; θ_{t−1}) = τ_t, EMA (w = 0.95) per run, mean ± std over seeds, vs "
                "iteration. The official plot evaluates λ after the step (P10) and averages over "
                "repeats first (P14). Left: isometric x = Q[u; 0] (primary), right: the official "
                "x = 10·Q[u; 0] (variant). Official output: experiment_1/mlp/lipschitz.pdf.", E1A,
                title="Lipschitz constant at the visited sample vs iteration",
                regenerates=NO_PANEL)
def lipschitz(inputs: FigureInputs) -> plt.Figure:
    def draw(axes: np.ndarray, experiment: str) -> None:
        rows = _with_frequency(inputs, traj.per_epoch(inputs.metrics, "lipschitz_visited_ema"),
                               experiment)
        band(axes[0, 0], rows, "step", "value")
        axes[0, 0].set(xlabel="iteration", ylabel="λ at the visited sample (EMA)")

    return _by_embedding(inputs, draw)


@figures.figure("figR06_mlp_losses",
                "E1a (submission Figs 1a train loss, 1c test loss): train loss (mean of per-step "
                "losses in the epoch), test loss (end of epoch), and mean absolute errors, "
                "mean ± std over seeds. Errors are per-epoch means, not the official cumulative "
                "running means (P16). Left two columns: isometric x = Q[u; 0] (primary), right "
                "two: the official x = 10·Q[u; 0] (variant). "
                "Official outputs: experiment_1/mlp/{train,test}_{loss,error}.pdf.", E1A,
                title="train and test loss and error vs epoch, per frequency",
                regenerates="submission Figs 1a, 1c")
def losses(inputs: FigureInputs) -> plt.Figure:
    panels = [("loss", "train", "train loss"), ("loss", "test", "test loss"),
              ("abs_error", "train", "train error"), ("abs_error", "test", "test error")]

    def draw(axes: np.ndarray, experiment: str) -> None:
        for ax, (metric, split, label) in zip(axes.flat, panels, strict=True):
            band(ax, _with_frequency(inputs, traj.per_epoch(inputs.metrics, metric, split),
                                      experiment), "epoch", "value")
            ax.set(xlabel="epoch", ylabel=label)
            ax.set_ylim(bottom=0)

    return _by_embedding(inputs, draw, ncols=2, nrows=2, width=5.0, height=3.5)


@figures.figure("figX01_steadiness_far_lipschitz",
                "E1a (suite extension, no submission panel): steadiness of b1 against complexity "
                "far from the data, one point per run: Corollary 2's variance V (last 10 epochs, "
                "left) and τ_last10 (per iteration, right) vs the mean λ on the far-field grid "
                "[−3, 3]² \\ [−1, 1]² embedded with the run's Q (§4.4) at the final checkpoint. "
                "Top: isometric x = Q[u; 0] (primary), bottom: the official x = 10·Q[u; 0] "
                "(variant).", E1A,
                title="steadiness of the first-layer bias vs far-field Lipschitz constant")
def steadiness_far_lipschitz(inputs: FigureInputs) -> plt.Figure:
    runs = inputs.runs.set_index("run_id")
    frame = pd.DataFrame({
        "V": traj.window_variance(inputs.metrics),
        "tau": traj.tau_last10(inputs.metrics),
        "far": traj.final_value(inputs.metrics, "far_field_lipschitz_mean", "far_field"),
    }).join(runs[["data_frequency", "experiment"]].rename(columns={"data_frequency": "f"}))
    frame = categorical(frame, "f")
    fig, axes = plt.subplots(2, 2, figsize=(10, 8), squeeze=False, layout="constrained")
    for row, experiment in zip(axes, E1A, strict=True):
        rows = frame[frame["experiment"] == experiment]
        for ax, x, label in ((row[0], "V", "variance $V$ (Corollary 2, last 10 epochs)"),
                             (row[1], "tau", "τ_last10")):
            sns.scatterplot(data=rows, x=x, y="far", hue="f", palette="viridis", s=60, ax=ax)
            ax.set(xlabel=label, ylabel="far-field λ (mean)")
        row[0].set_xscale("log")
        row[0].set_title(EMBEDDING[experiment], fontsize=9, loc="left")
    return fig


@figures.figure("figR10_batch_size",
                "E4 (supplementary, no submission panel): minibatches of 16 (top) and 32 (bottom) "
                "on the E1a task (isometric embedding): train loss and test loss per epoch, and "
                "the EMA (w = 0.95) of the per-step τ_t = ‖Δb_t‖/(η·mean|ℓ'|) (§4.1 for B > 1, "
                "≤ the largest λ in the batch; the paper's B > 1 statement is not known), "
                "mean ± std over seeds. "
                "Official outputs: experiment_4/{train_loss,test_loss,trajectory}.pdf.", ("e4",),
                title="batch sizes 16 and 32: losses and trajectory",
                regenerates="reconstruction, supplementary, no submission panel")
def batch_size(inputs: FigureInputs) -> plt.Figure:
    panels = [("loss", "train", "epoch", "train loss"), ("loss", "test", "epoch", "test loss"),
              ("lipschitz_visited_ema", "train", "step", "τ per step (EMA)")]
    sizes = sorted(inputs.runs["train_batch_size"].unique())
    fig, axes = plt.subplots(len(sizes), 3, figsize=(15, 3.8 * len(sizes)), squeeze=False,
                             layout="constrained")
    for row, size in zip(axes, sizes, strict=True):
        for ax, (metric, split, x, label) in zip(row, panels, strict=True):
            rows = _with_frequency(inputs, traj.per_epoch(inputs.metrics, metric, split), "e4")
            band(ax, rows[rows["batch_size"] == size], x, "value")
            ax.set(xlabel="iteration" if x == "step" else x, ylabel=f"{label}, bs {size}")
    return fig
