"""fort2019 claim checks (docs/protocols/fort2019.md §6), one function per claim; this file
begins the paper's claim set with C1-C4 (stiffness during training and between classes),
claims_lr_distance.py and claims_xi_superclass.py add the others, claims.py gathers them.

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

import numpy as np
import pandas as pd
from scipy.stats import pearsonr

from analysis.fort2019.stats import (
    WorstCase,
    curves,
    e1_runs,
    e_star,
)
from trainlens.claims import ClaimInputs, ClaimSet, Criterion, at_every_scale
from trainlens.stats.rank import spearman

claims = ClaimSet("fort2019")
SOURCE = ("docs/protocols/fort2019.md §6 {} [v3 pinned for the direction, its body unread; "
          "v1's protocol, §2b]")
MODES = ("tt", "tv", "vv")
STIFFNESS = ["stiffness_within_cos", "stiffness_between_cos", "stiffness_within_sign",
             "stiffness_between_sign"]


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
