"""fort2019 figures of stiffness against the learning rate and the input distance, and of the
critical length ξ over training (docs/protocols/fort2019.md §5): figR03-figR05, registered on the
set that figures_classes.py begins (figures.py, the registry the workflow loads, re-exports it)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import seaborn as sns

from analysis.fort2019.figures_classes import (
    E1,
    E2,
    STIFFNESS,
    caption,
    figures,
    first_runs,
    paper_says,
)
from analysis.fort2019.stats import curves, distance_curve, experiment_runs
from trainlens.plotting import FigureInputs
from trainlens.stats.critical_length import CENSORING

CENSORED_WHY = {"above": "the fitted line reaches 0 only beyond the largest distance",
                "below": "the stiffness is ≤ 0 already at the smallest distance",
                "no_decay": "the stiffness does not decay with distance"}


def _all_censored(ax: plt.Axes, rows) -> None:
    """figR05 with no ξ at all: say so on the axes (each censoring reason with its count)
    instead of leaving empty axes; the epochs stay on the x axis."""
    status = rows["xi_fit_status"].map(lambda s: CENSORING[int(s)]).value_counts()
    why = "\n".join(f"{CENSORED_WHY.get(reason, reason)}: {n}" for reason, n in status.items())
    ax.text(0.5, 0.5, f"every ξ censored ({len(rows)} of {len(rows)} run checkpoints, both "
            f"estimators):\nthe within-class stiffness never crosses 0 inside the observed "
            f"input distances\n{why}\n(see C8, C9 and their censored share)", ha="center",
            va="center", fontsize=8, transform=ax.transAxes, wrap=True)
    ax.set(xlim=(rows["epoch"].min(), rows["epoch"].max()), ylim=(0, 2))  # 1 − cos ∈ [0, 2]


def _lr_panels(inputs: FigureInputs):
    runs = experiment_runs(inputs.runs, "e2_", variants=True)  # a variant is its own row
    table = curves(inputs.metrics, runs["run_id"], "vv", STIFFNESS).merge(runs, on="run_id")
    loss = curves(inputs.metrics, runs["run_id"], "train", ["checkpoint_loss"])
    return table.merge(loss.rename(columns={"checkpoint_loss": "loss"}),
                       on=["run_id", "step", "epoch"])


@figures.figure(
    "figR03_stiffness_vs_lr",
    caption("figR03_stiffness_vs_lr",
    "E2: class-balanced S_between and S_within (cos, vv) against the Adam learning rate, at "
    "three early epochs (left, mean over seeds) and against the train loss (right, one line per "
    "lr, seed 0). Expected (v3): smaller lr → higher stiffness at a given epoch and at a given "
    "training loss (C5, C6)."), E2, title="stiffness vs learning rate")
def fig_r03(inputs: FigureInputs) -> plt.Figure:
    table = _lr_panels(inputs)
    configs = sorted(table["config"].unique())
    fig, axes = plt.subplots(len(configs), 2, figsize=(11, 4 * len(configs)), squeeze=False)
    for row, config in zip(axes, configs):
        rows = table[table["config"] == config]
        epochs = sorted(e for e in rows["epoch"].unique() if 0 < e <= rows["epoch"].max() / 4)
        for index, epoch in enumerate(epochs[-3:]):
            at = rows[rows["epoch"] == epoch].groupby("lr")[["stiffness_between_cos",
                                                             "stiffness_within_cos"]].mean()
            row[0].plot(at.index, at["stiffness_within_cos"], "o-", color=f"C{index}",
                        label=f"within, epoch {epoch:.3g}")
            row[0].plot(at.index, at["stiffness_between_cos"], "s--", color=f"C{index}",
                        label=f"between, epoch {epoch:.3g}")
        row[0].set(xscale="log", xlabel="learning rate",
                   ylabel=f"{config}\ncosine stiffness (val–val)")
        row[0].legend(fontsize=6)
        colors = dict(zip(sorted(rows["lr"].unique()),
                          sns.color_palette("viridis", rows["lr"].nunique())))
        for (lr, _), run in rows[rows["seed"] == rows["seed"].min()].groupby(["lr", "run_id"]):
            run = run.sort_values("epoch")
            row[1].plot(run["loss"], run["stiffness_within_cos"], "-", color=colors[lr],
                        label=f"lr {lr:g} within")
            row[1].plot(run["loss"], run["stiffness_between_cos"], "--", color=colors[lr])
        row[1].set(xscale="log", xlabel="train loss (log; training runs right to left)",
                   ylabel="cosine stiffness (val–val):\nwithin solid, between dashed")
        row[1].invert_xaxis()
        row[1].legend(fontsize=6)
    fig.tight_layout()
    paper_says(fig, "figR03_stiffness_vs_lr", "C5, C6 in the claims below")
    return fig


@figures.figure(
    "figR04_stiffness_vs_distance",
    caption("figR04_stiffness_vs_distance",
    "E1 (first configuration): within-class S_cos (vv) against input distance 1 − cos(X1, X2) "
    "in 20 equal-count bins (± SEM), one curve per checkpoint; ξ by the line fit marked where "
    "found (censored: the line does not reach 0 inside the data). Expected: decay with distance "
    "(C7), crossing 0 at ξ."), E1, title="within-class stiffness vs input distance")
def fig_r04(inputs: FigureInputs) -> plt.Figure:
    run = first_runs(inputs).iloc[0]
    rows = inputs.metrics[(inputs.metrics["run_id"] == run.run_id)
                          & (inputs.metrics["split"] == "vv")]
    epochs = rows.groupby("step")["epoch"].first()
    colors = dict(zip(epochs.index, sns.color_palette("viridis", len(epochs))))
    fig, ax = plt.subplots(figsize=(7.5, 5))
    censored = 0
    for step, epoch in epochs.items():
        curve = distance_curve(inputs.metrics, run.run_id, step)
        ax.errorbar(curve["centre"], curve["mean"], yerr=curve["sem"], color=colors[step],
                    label=f"epoch {epoch:.3g}", lw=1, capsize=1.5)
        at = rows[rows["step"] == step].set_index("metric")["value"]
        if at.get("xi_fit_status") == CENSORING.index("found"):
            ax.axvline(at["xi_fit"], color=colors[step], ls=":", lw=1)
        else:
            censored += 1
    ax.axhline(0, color="grey", lw=0.5)
    ax.set(xlabel="input distance 1 − cos(X1, X2)",
           ylabel="within-class cosine stiffness (val–val)",
           title=f"{run.config}: ξ censored at {censored} of {len(epochs)} checkpoints")
    ax.legend(fontsize=6, ncol=2)
    paper_says(fig, "figR04_stiffness_vs_distance",
                "C7 in the claims below; ξ per checkpoint in the title")
    return fig


@figures.figure(
    "figR05_xi_vs_epoch",
    caption("figR05_xi_vs_epoch",
    "E2: the critical length ξ (vv, line fit; crosses: first crossing) against epoch, mean over "
    "seeds, one colour per learning rate; checkpoints where ξ is censored (no zero crossing "
    "inside the observed distances) are counted in the legend. Expected (v3): ξ falls during "
    "training and is smaller for larger lr (C8, C9)."), E2,
    title="critical length ξ vs epoch, per learning rate")
def fig_r05(inputs: FigureInputs) -> plt.Figure:
    runs = experiment_runs(inputs.runs, "e2_", variants=True)  # a variant is its own panel
    names = ["xi_fit", "xi_fit_status", "xi_crossing"]
    table = curves(inputs.metrics, runs["run_id"], "vv", names).merge(runs, on="run_id")
    late = table[table["epoch"] >= 1]
    # a run shorter than one epoch (a tiny slice) has no checkpoint there: show what it has
    table, shown = ((late, "epochs ≥ 1") if len(late) else
                    (table[table["epoch"] > 0], "epochs > 0: no checkpoint at epoch ≥ 1"))
    configs = sorted(table["config"].unique())
    fig, axes = plt.subplots(1, len(configs), figsize=(7 * len(configs), 4.8), squeeze=False)
    for ax, config in zip(axes[0], configs):
        rows = table[table["config"] == config]
        colors = dict(zip(sorted(rows["lr"].unique()),
                          sns.color_palette("viridis", rows["lr"].nunique())))
        for lr, part in rows.groupby("lr"):
            mean = part.groupby("epoch")[["xi_fit", "xi_crossing"]].mean()
            n_censored = int((part["xi_fit_status"] != CENSORING.index("found")).sum())
            ax.plot(mean.index, mean["xi_fit"], "o-", color=colors[lr],
                    label=f"lr {lr:g} (censored {n_censored}/{len(part)})")
            ax.plot(mean.index, mean["xi_crossing"], "x", color=colors[lr])
        ax.set(xlabel="epoch", ylabel="ξ (input distance 1 − cos)", title=f"{config} ({shown})")
        ax.legend(fontsize=7)
        if rows[["xi_fit", "xi_crossing"]].isna().all().all():
            _all_censored(ax, rows)
    paper_says(fig, "figR05_xi_vs_epoch", "C8, C9 in the claims below")
    return fig
