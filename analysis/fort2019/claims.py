"""fort2019 claim checks (docs/protocols/fort2019.md §6), one function per claim.

arXiv v3 is pinned for the claims' direction (its learning-rate claims are the reverse of v1's);
v3's body is still unread. The full text of v1 settles the protocol where v3 is silent
(docs/protocols/fort2019.md §2b): the paper-scale lr grid and C6's matched train losses (F-a), the
training lengths (F-b) and the Glorot-uniform/zero-bias init (F-c). No stiffness level or ξ value of
v3 was recovered, so every threshold is the protocol's, fixed before any run; the same thresholds
apply at both scales. Gating at smoke: C1, C2, C4, C7; non-gating: C3, C5, C6, C8, C9. C10-C11 are
paper scale only, C12 (BERT/MNLI) is not built. An unmet gating condition of the protocol (e.g. "≥ 3
checkpoints at or after e*") is one more criterion, so the claim FAILs with that reason. Stiffness
means the class-balanced S_cos (and S_sign where named) on the vv probe unless a pair mode is named;
each claim is checked in every configuration (dataset, architecture) and run, and the worst case is
the statistic. A NaN per-run statistic is never dropped from that worst case: it makes the statistic
NaN, its criterion FAIL, and the criterion ``nan_statistics == 0`` names the cause in the reason
(``nan_in_<statistic>`` counts them). Init variants (``*_pytorch_init`` experiments) never enter a
claim."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.stats import pearsonr

from analysis.fort2019.stats import (
    MATCHED_LOSSES,
    WorstCase,
    at_loss,
    curves,
    e1_runs,
    e_star,
    experiment_runs,
    reaches,
)
from trainlens.claims import ClaimInputs, ClaimSet, Criterion, at_every_scale
from trainlens.stats.critical_length import CENSORING
from trainlens.stats.rank import spearman

claims = ClaimSet("fort2019")
# Known causes of FAILs, by scale (REPORT.md "What failed, and why"; claims.tsv known_cause)
_XI_CENSORED = (
    "no ξ is found: every within-class stiffness curve stays above zero out to the largest input "
    "distance in the data (censored_share 1), on scikit-learn's 8×8 digits at smoke and on real "
    "MNIST at cpu scale alike, so the ξ trends cannot be tested (figR05 says so)")
XI_CENSORED = {"smoke": _XI_CENSORED, "cpu": _XI_CENSORED}
SOURCE = ("docs/protocols/fort2019.md §6 {} [v3 pinned for the direction, its body unread; "
          "v1's protocol, §2b]")
MODES = ("tt", "tv", "vv")
STIFFNESS = ["stiffness_within_cos", "stiffness_between_cos", "stiffness_within_sign",
             "stiffness_between_sign"]
# ξ by the line fit and by the first crossing (docs/protocols/fort2019.md §4)
ESTIMATORS = ("fit", "crossing")


def both(*criteria: Criterion) -> dict[str, list[Criterion]]:
    """The criteria at both scales, plus the NaN rule (gating as the claim's own criteria)."""
    nan_rule = Criterion("nan_statistics", "==", 0, gating=any(c.gating for c in criteria))
    return at_every_scale(*criteria, nan_rule)


def _per_run(inputs: ClaimInputs, runs: pd.DataFrame, split: str, names: list[str]
             ) -> dict[str, pd.DataFrame]:
    """run_id -> its checkpoints (sorted by epoch) with the metrics ``names`` of ``split``,
    and e* as a column."""
    table = curves(inputs.metrics, runs["run_id"], split, names)
    star = e_star(inputs.metrics, runs["run_id"])
    return {run_id: rows.sort_values("epoch").assign(e_star=star[run_id])
            for run_id, rows in table.groupby("run_id")}


@claims.claim(
    "C1", "fig03_stiffness_training", SOURCE.format("C1"),
    "Within-class stiffness exceeds between-class stiffness (tt, tv and vv).",
    "Δ = S_within − S_between, class-balanced; min over E1 runs, modes tt/tv/vv and checkpoints "
    "with epoch ≤ e*+1 of Δ_cos and Δ_sign; after e*+1 min of both Δ",
    both(Criterion("delta_cos_min_early", ">=", 0.05),
         Criterion("delta_sign_min_early", ">=", 0.10),
         Criterion("delta_min_late", ">=", 0.0)),
    paper_says=("v1: FC MNIST, lr 1e-3: same-class sign stiffness ≈ 1.0 before overfitting, then ≈"
                " 0.1–0.25; between-class ≈ 0.15–0.3 falling toward 0.1 "
                "(docs/protocols/fort2019.md §2b F-d)"))
def c1_within_between(inputs: ClaimInputs) -> dict[str, float | bool]:
    runs, worst = e1_runs(inputs.runs), WorstCase()
    early_cos, early_sign, late = [], [], []
    for mode in MODES:
        for rows in _per_run(inputs, runs, mode, STIFFNESS).values():
            d_cos = rows["stiffness_within_cos"] - rows["stiffness_between_cos"]
            d_sign = rows["stiffness_within_sign"] - rows["stiffness_between_sign"]
            early = rows["epoch"] <= rows["e_star"] + 1
            early_cos += d_cos[early].tolist()
            early_sign += d_sign[early].tolist()
            late += d_cos[~early].tolist() + d_sign[~early].tolist()
    return {"delta_cos_min_early": worst("delta_cos_min_early", early_cos, "min"),
            "delta_sign_min_early": worst("delta_sign_min_early", early_sign, "min"),
            # no checkpoint after e*+1 leaves nothing to violate
            "delta_min_late": worst("delta_min_late", late, "min") if late else 0.0,
            "n_runs_e1": float(len(runs)), **worst.nan_report()}


@claims.claim(
    "C2", "figR01_class_stiffness_matrices", SOURCE.format("C2"),
    "The diagonal dominates the class stiffness matrix.",
    "share of classes c with C_cos(c,c) > max_{c'≠c} C_cos(c,c') (vv); min over E1 runs and "
    "checkpoints with epoch ≤ e*",
    both(Criterion("dominant_share_min", ">=", 0.9)),
    paper_says=("v1: at init the class sign-stiffness matrix has +1 on the diagonal and mostly ≈ "
                "−1 off it; with permuted labels the off-diagonal goes to −1 "
                "(docs/protocols/fort2019.md §2b F-d)"))
def c2_diagonal(inputs: ClaimInputs) -> dict[str, float | bool]:
    runs, worst = e1_runs(inputs.runs), WorstCase()
    shares = []
    for run_id, rows in _per_run(inputs, runs, "vv", ["diagonal_dominant_classes"]).items():
        n_classes = _n_classes(inputs.metrics, run_id)
        early = rows[rows["epoch"] <= rows["e_star"]]
        shares += (early["diagonal_dominant_classes"] / n_classes).tolist()
    return {"dominant_share_min": worst("dominant_share_min", shares, "min"),
            **worst.nan_report()}


def _n_classes(metrics: pd.DataFrame, run_id: str) -> int:
    names = metrics.loc[(metrics["run_id"] == run_id)
                        & metrics["metric"].str.startswith("class_cos_"), "metric"]
    return int(np.sqrt(names.nunique()))


@claims.claim(
    "C3", "fig03_stiffness_training", SOURCE.format("C3"),
    "Stiffness collapses toward 0 after overfitting starts.",
    "over checkpoints ≥ e* of each E1 run: max over runs of Spearman(epoch, S_within^vv); max "
    "over runs of S_within^vv(last)/max_e S_within^vv; min over runs of max_e S_between − "
    "S_between(last); gating condition: ≥ 3 checkpoints at or after e* (the run must overfit)",
    both(Criterion("rho_within_max", "<=", -0.6, gating=False),
         Criterion("within_last_over_max", "<=", 0.5, gating=False),
         Criterion("between_drop_min", ">=", 0.03, gating=False),
         Criterion("checkpoints_from_e_star_min", ">=", 3, gating=False)),
    paper_says=("v1: FC MNIST, lr 1e-3: same-class sign stiffness ≈ 1.0 until overfitting starts "
                "(≈ 3×10⁵ examples), then decays to ≈ 0.1–0.25; between-class falls toward 0.1 "
                "(docs/protocols/fort2019.md §2b)"))
def c3_collapse(inputs: ClaimInputs) -> dict[str, float | bool]:
    runs, worst = e1_runs(inputs.runs), WorstCase()
    rhos, ratios, drops, counts = [], [], [], []
    for rows in _per_run(inputs, runs, "vv", STIFFNESS).values():
        after = rows[rows["epoch"] >= rows["e_star"]]
        within, between = rows["stiffness_within_cos"], rows["stiffness_between_cos"]
        counts.append(float(len(after)))
        rhos.append(spearman(after["epoch"], after["stiffness_within_cos"]))
        ratios.append(float(within.iloc[-1] / within.max()))
        drops.append(float(between.max() - between.iloc[-1]))
    return {"rho_within_max": worst("rho_within_max", rhos, "max"),
            "within_last_over_max": worst("within_last_over_max", ratios, "max"),
            "between_drop_min": worst("between_drop_min", drops, "min"),
            "checkpoints_from_e_star_min": worst("checkpoints_from_e_star_min", counts, "min"),
            **worst.nan_report()}


@claims.claim(
    "C4", "fig03_stiffness_training", SOURCE.format("C4"),
    "Stiffness is the same on train-train, train-val and val-val pairs.",
    "over checkpoints ≤ e* of each E1 run: max |S_within^tt − S_within^vv| and |S_within^tv − "
    "S_within^vv|, min Pearson r across checkpoints of both pairs; gating condition: ≥ 6 "
    "checkpoints ≤ e*",
    both(Criterion("max_abs_difference", "<=", 0.10), Criterion("pearson_min", ">=", 0.8),
         Criterion("checkpoints_to_e_star_min", ">=", 6)),
    paper_says=("no number in the paper: v3 measures train-train, train-val and val-val pairs "
                "(close paraphrase), v1 val-val only; their agreement is the suite's test "
                "(docs/protocols/fort2019.md §2b F-e)"))
def c4_modes_agree(inputs: ClaimInputs) -> dict[str, float | bool]:
    runs, worst = e1_runs(inputs.runs), WorstCase()
    by_mode = {mode: _per_run(inputs, runs, mode, ["stiffness_within_cos"]) for mode in MODES}
    differences, correlations, counts = [], [], []
    for run_id, vv in by_mode["vv"].items():
        early = vv["epoch"] <= vv["e_star"]
        counts.append(float(early.sum()))
        for mode in ("tt", "tv"):
            other = by_mode[mode][run_id]["stiffness_within_cos"].to_numpy()[early.to_numpy()]
            reference = vv["stiffness_within_cos"].to_numpy()[early.to_numpy()]
            differences.append(float(np.max(np.abs(other - reference))))
            correlations.append(float(pearsonr(other, reference).statistic)
                                if len(other) >= 3 else float("nan"))
    return {"max_abs_difference": worst("max_abs_difference", differences, "max"),
            "pearson_min": worst("pearson_min", correlations, "min"),
            "checkpoints_to_e_star_min": worst("checkpoints_to_e_star_min", counts, "min"),
            **worst.nan_report()}


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
