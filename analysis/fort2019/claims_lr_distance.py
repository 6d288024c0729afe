"""fort2019 claims on stiffness against the learning rate and the input distance
(docs/protocols/fort2019.md §6 C5-C7), one function per claim, registered on the set that
claims_training.py begins (its module docstring states the rules every claim follows)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.fort2019.claims_training import SOURCE, STIFFNESS, both, claims
from analysis.fort2019.stats import (
    MATCHED_LOSSES,
    WorstCase,
    at_loss,
    curves,
    e1_runs,
    experiment_runs,
    reaches,
)
from trainlens.claims import ClaimInputs, Criterion
from trainlens.stats.rank import spearman


def _lr_table(inputs: ClaimInputs) -> pd.DataFrame:
    """Every E2 checkpoint: config, lr, seed, epoch, train loss and the vv stiffness."""
    runs = experiment_runs(inputs.runs, "e2_")
    stiff = curves(inputs.metrics, runs["run_id"], "vv", STIFFNESS)
    loss = curves(inputs.metrics, runs["run_id"], "train", ["checkpoint_loss"])
    return stiff.merge(loss.rename(columns={"checkpoint_loss": "loss"}),
                       on=["run_id", "step", "epoch"]).merge(runs, on="run_id")


@claims.claim(
    "C5", "figR03_stiffness_vs_lr", SOURCE.format("C5"),
    "Smaller learning rates give higher stiffness at a given epoch.",
    "per E2 configuration and checkpoint in the first ¼ of training (epoch 0 excluded): "
    "Spearman(log lr, S) pooled over seeds; share of checkpoints with ρ ≤ −0.5, min over "
    "configurations, for S_between and S_within; gating condition: ≥ 4 lrs",
    both(Criterion("share_between_min", ">=", 0.7, gating=False),
         Criterion("share_within_min", ">=", 0.7, gating=False),
         Criterion("n_lrs_min", ">=", 4, gating=False)),
    paper_says=('v3 abstract: "small learning rates reliably lead to higher stiffness at a given '
                'epoch"; v1 says the reverse; no per-lr value recovered '
                "(docs/protocols/fort2019.md §2)"))
def c5_lr_epoch(inputs: ClaimInputs) -> dict[str, float | bool]:
    table, worst = _lr_table(inputs), WorstCase()
    stats: dict[str, float | bool] = {}
    shares: dict[str, list[float]] = {"between": [], "within": []}
    n_lrs = []
    for config, rows in table.groupby("config"):
        n_lrs.append(float(rows["lr"].nunique()))
        early = rows[(rows["epoch"] > 0) & (rows["epoch"] <= rows["epoch"].max() / 4)]
        for kind in shares:
            rhos = [spearman(np.log(part["lr"]), part[f"stiffness_{kind}_cos"])
                    for _, part in early.groupby("step")]
            share = float(np.mean([r <= -0.5 for r in rhos])) if rhos else float("nan")
            shares[kind].append(share)
            stats[f"{config}: share_{kind}"] = share
            stats[f"{config}: median_rho_{kind}"] = float(np.nanmedian(rhos)) if rhos else np.nan
    return {"share_between_min": worst("share_between_min", shares["between"], "min"),
            "share_within_min": worst("share_within_min", shares["within"], "min"),
            "n_lrs_min": worst("n_lrs_min", n_lrs, "min"), **worst.nan_report(), **stats}


@claims.claim(
    "C6", "figR03_stiffness_vs_lr", SOURCE.format("C6"),
    "Smaller learning rates give higher stiffness at a given training loss.",
    "per E2 configuration, at each of v1's matched train losses 0.017, 0.056, 0.177 (protocol "
    "§2b F-a) that every run reaches (fallback when none is: L* = largest final train loss, "
    "floored at 0.1): S at that loss (linear in log loss, first crossing); Spearman(log lr, S) "
    "over runs, max over losses and configurations, for S_between and S_within; gating "
    "condition: every run reaches each loss used",
    both(Criterion("rho_between_max", "<=", -0.5, gating=False),
         Criterion("rho_within_max", "<=", -0.5, gating=False),
         Criterion("all_reach_L_star", "==", True, gating=False)),
    paper_says=('v3 abstract: higher stiffness for small lrs "at a given training loss"; v1 '
                "compared lrs at train losses 0.017, 0.056, 0.177, in the reverse direction "
                "(docs/protocols/fort2019.md §2, §2b F-a)"))
def c6_lr_loss(inputs: ClaimInputs) -> dict[str, float | bool]:
    table, worst = _lr_table(inputs), WorstCase()
    stats: dict[str, float | bool] = {}
    rhos: dict[str, list[float]] = {"between": [], "within": []}
    reach, n_matched = True, []
    for config, rows in table.groupby("config"):
        runs = {run_id: r.sort_values("epoch") for run_id, r in rows.groupby("run_id")}
        targets = [t for t in MATCHED_LOSSES
                   if all(reaches(r["loss"].to_numpy(), t) for r in runs.values())]
        n_matched.append(float(len(targets)))
        if not targets:  # docs/protocols/fort2019.md §6's fallback: the floored largest final loss
            targets = [max(0.1, max(float(r["loss"].iloc[-1]) for r in runs.values()))]
            stats[f"{config}: L_star"] = targets[0]
        lrs = pd.Series({run_id: float(r["lr"].iloc[0]) for run_id, r in runs.items()})
        for target in targets:
            for kind in rhos:
                at = pd.Series({run_id: at_loss(r["loss"].to_numpy(),
                                                r[f"stiffness_{kind}_cos"].to_numpy(), target)
                                for run_id, r in runs.items()})
                reach &= bool(at.notna().all())
                rho = spearman(np.log(lrs[at.index]), at)
                rhos[kind].append(rho)
                stats[f"{config} at loss {target:.3g}: rho_{kind}"] = rho
    return {"rho_between_max": worst("rho_between_max", rhos["between"], "max"),
            "rho_within_max": worst("rho_within_max", rhos["within"], "max"),
            "all_reach_L_star": reach, "matched_losses_used_min": min(n_matched, default=0.0),
            **worst.nan_report(), **stats}


@claims.claim(
    "C7", "figR04_stiffness_vs_distance", SOURCE.format("C7"),
    "Stiffness decays with input distance.",
    "Spearman(bin centre, binned within-class S_cos) over the 20 equal-count vv bins; max over E1 "
    "runs and checkpoints with epoch ≥ 1; gating condition: ≥ 6 bins with ≥ 30 pairs each",
    both(Criterion("rho_max", "<=", -0.7), Criterion("bins_with_30_pairs_min", ">=", 6)),
    paper_says=('v3 (close paraphrase): stiffness decays with input distance; ξ is "the distance '
                'at which within-class stiffness crosses zero"; no value recovered '
                "(docs/protocols/fort2019.md §4)"))
def c7_distance(inputs: ClaimInputs) -> dict[str, float | bool]:
    runs, worst = e1_runs(inputs.runs), WorstCase()
    m = inputs.metrics
    rows = m[m["run_id"].isin(runs["run_id"]) & (m["split"] == "vv") & (m["epoch"] >= 1)
             & m["metric"].str.match(r"distance_bin\d+_")]
    parts = rows["metric"].str.extract(r"distance_bin(\d+)_(\w+)")
    wide = rows.assign(bin=parts[0], field=parts[1]).set_index(
        ["run_id", "step", "bin", "field"])["value"].unstack("field").reset_index()
    rhos, bins = [], []
    for _, curve in wide.groupby(["run_id", "step"]):
        rhos.append(spearman(curve["centre"], curve["mean"]))
        bins.append(float((curve["count"] >= 30).sum()))
    return {"rho_max": worst("rho_max", rhos, "max"),
            "bins_with_30_pairs_min": worst("bins_with_30_pairs_min", bins, "min"),
            "n_checkpoints": float(len(rhos)), **worst.nan_report()}
