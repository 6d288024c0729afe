"""fort2019 claims on the critical length ξ and the CIFAR-100 super-classes
(docs/protocols/fort2019.md §6 C8-C12), one function per claim, registered on the set that
claims_training.py begins (its module docstring states the rules every claim follows)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from analysis.fort2019.claims_training import SOURCE, both, claims
from analysis.fort2019.stats import WorstCase, curves, e_star, experiment_runs
from trainlens.claims import ClaimInputs, Criterion
from trainlens.stats.critical_length import CENSORING
from trainlens.stats.rank import spearman

# Known causes of FAILs, by scale (REPORT.md "What failed, and why"; claims.tsv known_cause)
_XI_CENSORED = (
    "no ξ is found: every within-class stiffness curve stays above zero out to the largest input "
    "distance in the data (censored_share 1), on scikit-learn's 8×8 digits at smoke and on real "
    "MNIST at cpu scale alike, so the ξ trends cannot be tested (figR05 says so)")
XI_CENSORED = {"smoke": _XI_CENSORED, "cpu": _XI_CENSORED}
# ξ by the line fit and by the first crossing (docs/protocols/fort2019.md §4)
ESTIMATORS = ("fit", "crossing")


def _xi_table(inputs: ClaimInputs) -> pd.DataFrame:
    """ξ (both estimators, vv) at every E2 checkpoint with epoch ≥ 1."""
    runs = experiment_runs(inputs.runs, "e2_")
    names = ["xi_fit", "xi_fit_status", "xi_crossing", "xi_crossing_status"]
    table = curves(inputs.metrics, runs["run_id"], "vv", names).merge(runs, on="run_id")
    return table[table["epoch"] >= 1]


def _censored_share(table: pd.DataFrame) -> float:
    found = CENSORING.index("found")
    return float(((table["xi_fit_status"] != found) | (table["xi_crossing_status"] != found)
                  ).mean()) if len(table) else float("nan")


def _found(rows: pd.DataFrame, estimator: str) -> pd.DataFrame:
    """The checkpoints where ξ of ``estimator`` was found: censored ξ (NaN) leave the rank
    tests, and the censoring criterion (≤ 20%) counts them instead (docs/protocols/fort2019.md
    §6 C8)."""
    return rows[np.isfinite(rows[f"xi_{estimator}"].astype(float))]


@claims.claim(
    "C8", "figR05_xi_vs_epoch", SOURCE.format("C8"),
    "The critical length ξ decreases during training.",
    "per E2 configuration and lr: Spearman(epoch, ξ) over the checkpoints ≥ epoch 1 where ξ was "
    "found, pooled over seeds; max over lrs and configurations, for both estimators (line fit, "
    "first crossing); gating condition: ≤ 20% of ξ values censored or NaN",
    both(Criterion("rho_fit_max", "<=", -0.5, gating=False),
         Criterion("rho_crossing_max", "<=", -0.5, gating=False),
         Criterion("censored_share", "<=", 0.2, gating=False)),
    known_causes=XI_CENSORED,
    paper_says=("v3: the critical length ξ shrinks during training; no ξ value recovered "
                "(docs/protocols/fort2019.md §1, §5)"))
def c8_xi_epoch(inputs: ClaimInputs) -> dict[str, float | bool]:
    table, worst = _xi_table(inputs), WorstCase()
    rhos: dict[str, list[float]] = {estimator: [] for estimator in ESTIMATORS}
    for _, rows in table.groupby(["config", "lr"]):
        for estimator in ESTIMATORS:
            found = _found(rows, estimator)
            rhos[estimator].append(spearman(found["epoch"], found[f"xi_{estimator}"]))
    stats: dict[str, float | bool] = {
        f"rho_{estimator}_max": worst(f"rho_{estimator}_max", rhos[estimator], "max")
        for estimator in ESTIMATORS}
    stats["censored_share"] = _censored_share(table)
    for status, count in table["xi_fit_status"].value_counts().items():
        stats[f"xi_fit_{CENSORING[int(status)]}"] = float(count)
    return {**stats, **worst.nan_report()}


def _rank_by_lr(xi: pd.Series) -> float:
    """Spearman(log lr, ξ) over the lrs whose seed-averaged ξ is finite."""
    xi = xi[np.isfinite(xi.to_numpy(dtype=float))]
    return spearman(pd.Series(np.log(xi.index.to_numpy(dtype=float))), xi.reset_index(drop=True))


@claims.claim(
    "C9", "figR05_xi_vs_epoch", SOURCE.format("C9"),
    "Higher learning rates give a smaller critical length ξ.",
    "per E2 configuration and ξ estimator (line fit, first crossing): Spearman(log lr, "
    "seed-averaged ξ) at the last checkpoint and for ξ averaged over checkpoints ≥ epoch 1, over "
    "the lrs with a found ξ (max over configurations); ξ(max lr) < ξ(min lr) at the last "
    "checkpoint; must hold for both estimators; gating conditions: ≥ 4 lrs, ≤ 20% of ξ censored "
    "or NaN",
    both(*(Criterion(f"{stat}_{estimator}", op, value, gating=False)
           for estimator in ESTIMATORS
           for stat, op, value in (("rho_last_max", "<=", -0.5), ("rho_mean_max", "<=", -0.5),
                                   ("xi_max_lr_below_min_lr", "==", True))),
         Criterion("n_lrs_min", ">=", 4, gating=False),
         Criterion("censored_share", "<=", 0.2, gating=False)),
    known_causes=XI_CENSORED,
    paper_says=('v3 abstract: "the higher the learning rate, the smaller the critical length"; v1 '
                "says the reverse; no ξ value recovered (docs/protocols/fort2019.md §2)"))
def c9_xi_lr(inputs: ClaimInputs) -> dict[str, float | bool]:
    table, worst = _xi_table(inputs), WorstCase()
    stats: dict[str, float | bool] = {}
    n_lrs = []
    for estimator in ESTIMATORS:
        column, rho_last, rho_mean, ordered = f"xi_{estimator}", [], [], True
        for _, rows in table.groupby("config"):
            last = rows[rows["epoch"] == rows["epoch"].max()].groupby("lr")[column].mean()
            mean = rows.groupby("lr")[column].mean()
            rho_last.append(_rank_by_lr(last))
            rho_mean.append(_rank_by_lr(mean))
            # a NaN at either end compares False: the order is not shown
            ordered &= bool(len(last) > 1 and last.iloc[-1] < last.iloc[0])
            if estimator == ESTIMATORS[0]:
                n_lrs.append(float(rows["lr"].nunique()))
        stats[f"rho_last_max_{estimator}"] = worst(f"rho_last_max_{estimator}", rho_last, "max")
        stats[f"rho_mean_max_{estimator}"] = worst(f"rho_mean_max_{estimator}", rho_mean, "max")
        stats[f"xi_max_lr_below_min_lr_{estimator}"] = ordered
    return {**stats, "n_lrs_min": worst("n_lrs_min", n_lrs, "min"),
            "censored_share": _censored_share(table), **worst.nan_report()}


def _group_claim(prefix: str) -> Callable[[ClaimInputs], dict[str, float | bool]]:
    """min Δ and max p over the E3 runs at lr 1e-3, at each run's e* (a NaN run is kept)."""

    def compute(inputs: ClaimInputs) -> dict[str, float | bool]:
        runs, worst = experiment_runs(inputs.runs, "e3_"), WorstCase()
        runs = runs[np.isclose(runs["lr"], 1e-3)]
        table = curves(inputs.metrics, runs["run_id"], "vv", [f"{prefix}_delta", f"{prefix}_p"])
        star = e_star(inputs.metrics, runs["run_id"])
        at = table[table["epoch"] == table["run_id"].map(star)]
        if at.empty or f"{prefix}_delta" not in at:
            return {"delta_min": float("nan"), "p_max": float("nan"), "n_runs_e3": 0.0,
                    "nan_statistics": 0.0}
        return {"delta_min": worst("delta_min", at[f"{prefix}_delta"].tolist(), "min"),
                "p_max": worst("p_max", at[f"{prefix}_p"].tolist(), "max"),
                "n_runs_e3": float(len(at)), **worst.nan_report()}

    return compute


NOT_AT_SMOKE = {"smoke": "paper scale only (docs/protocols/fort2019.md §6): the smoke E3 data "
                         "is a synthetic hierarchy, so a check would be circular; the statistic "
                         "is reported"}
claims.claim(
    "C10", "figR02_cifar100_superclass", SOURCE.format("C10"),
    "CIFAR-100 stiffness reflects the super-classes.",
    "Δ_super = mean C_cos over distinct-class pairs in one super-class − over pairs in different "
    "super-classes (vv, at e*, lr 1e-3 E3 runs; min over runs); one-sided permutation p over "
    "2,000 random equal-size partitions (max over runs)",
    {"paper": [Criterion("delta_min", ">=", 0.02), Criterion("p_max", "<", 0.01),
               Criterion("nan_statistics", "==", 0)]},
    not_evaluated=NOT_AT_SMOKE,
    paper_says=("v1: CIFAR-100 CNN at iteration 3,200, lr 1e-3: a visibly block-structured "
                "100×100 class stiffness matrix; no number (docs/protocols/fort2019.md §2b F-d)"),
)(_group_claim("superclass"))
claims.claim(
    "C11", "figR02_cifar100_superclass", SOURCE.format("C11"),
    "Living vs non-living super-classes ('super-super-classes') show in stiffness.",
    "Δ_supersuper as C10 with the living/non-living grouping of the super-classes ([inferred] "
    "grouping of docs/protocols/fort2019.md §6), permutation p over 2,000 partitions",
    {"paper": [Criterion("delta_min", ">=", 0.01), Criterion("p_max", "<", 0.05),
               Criterion("nan_statistics", "==", 0)]},
    not_evaluated={"smoke": "paper scale only (docs/protocols/fort2019.md §6): the synthetic "
                            "hierarchy has no living/non-living level"},
    paper_says=("no number: v3 shows CIFAR-100 super-class structure; the living vs non-living "
                "grouping of the super-classes is the suite's [inferred] "
                "(docs/protocols/fort2019.md §2, §6 C11)"),
)(_group_claim("living"))
claims.pending(
    "C12", "figR06_bert_mnli", SOURCE.format("C12"),
    "BERT fine-tuned on MNLI: within-class stiffness exceeds between-class stiffness.",
    "Δ ≥ 0.02 at every checkpoint, 3 classes, probe 300, projected gradients",
    "E4 (BERT on MNLI) needs pretrained BERT weights, the MNLI download and GPU-hours of "
    "fine-tuning; the machine this suite is built on reaches no model hub or dataset host and "
    "has no GPU (see REPORT 'Not built')",
    paper_says=("v3: the vision pattern replicates for BERT fine-tuned on MNLI (3 classes); no "
                "number recovered (docs/protocols/fort2019.md §1, §3 E4)"))
# cpu scale (experiments/fort2019.yaml, header "cpu scale"): E1 (FC and CNN) and E2 (FC) run on
# mnist5k, so C1-C9 are computed with the paper thresholds; E3 and E4 have no cpu block.
claims.not_run_at("cpu", ["C10", "C11"], "paper scale only: needs CIFAR-100 and a GPU")
claims.not_run_at("cpu", ["C12"], "paper scale only: needs BERT weights, MNLI and a GPU")
