"""dherin2022 claim checks (docs/protocols/dherin2022.md §6), one function per claim.

RECONSTRUCTED: the paper's body was not available. Every claim tests the protocol's reading of the
abstract and of close paraphrases, with thresholds calibrated on `load_digits` MLPs by the
protocol's reference implementation before any run of this suite; none is a number from the paper.
The same thresholds apply at both scales (§6); C1-C5 and C7-C10 gate at smoke, C11 is report only at
paper scale. The cpu scale (the MLP experiments on mnist5k at 784 inputs, E1 as at paper scale,
experiments/dherin2022.yaml) is judged by the paper-scale criteria and bases; every claim has its
experiments there (C10 from the MLP double descent e9, not the ResNet-18 e9_resnet). C6 (input
noise) is a suite extension that never gates (§2b D-a): no source names an input-noise experiment of
the paper. C7 is label-noise SGD, fresh per step (§2b D-b); the fixed corruption of the labelled
variant is reported beside it. GC is the exact eval-mode GC on all training points at each run's
last checkpoint. """

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.dherin2022.stats import run_summary, sweep_statistics
from trainlens.claims import ClaimInputs, ClaimSet, Criterion, at_every_scale
from trainlens.stats.rank import spearman

claims = ClaimSet("dherin2022")
DEPTHS = (1, 2, 4, 8, 16, 32)  # C1 checks these depths at both scales
PROTOCOL = "docs/protocols/dherin2022.md"
SOURCE = PROTOCOL + " §6 {} [reconstructed: the paper's body was not available]"
NOT_CONFIRMED = (" (a suite check: its presence in the paper is not confirmed, " + PROTOCOL
                 + " §2b D-c)")


both = at_every_scale  # the same criteria at every scale (trainlens.claims)


def _summary(inputs: ClaimInputs) -> pd.DataFrame:
    return run_summary(inputs.runs, inputs.metrics)


@claims.claim(
    "C1", "figR01_gc_init_depth", SOURCE.format("C1"),
    "GC at initialization shrinks toward 0 as depth grows (LeCun and Glorot inits).",
    "GC_init(L) strictly decreasing over L in {1,2,4,8,16,32} for LeCun-normal and "
    "Glorot-uniform in every seed; min over seeds and both inits of log2(GC_init(1)/GC_init(16)); "
    "He-normal reported",
    both(Criterion("strictly_decreasing", "==", True), Criterion("log2_ratio_1_16_min", ">=", 8)),
    paper_says=("no number (the paper's body is unread); contribution list (close paraphrase): GC "
                'is controlled by "common initialization schemes" and models "with a large number '
                'of layers" (docs/protocols/dherin2022.md §2b)'))
def c1_depth(inputs: ClaimInputs) -> dict[str, float | bool]:
    table = _summary(inputs)
    e1 = table[table["experiment"] == "e1"]
    stats: dict[str, float | bool] = {}
    decreasing, ratios = True, []
    for init, rows in e1.groupby("init"):
        per_seed = rows.pivot_table(index="value", columns="seed", values="gc_init")
        per_seed = per_seed.reindex([float(d) for d in DEPTHS])
        medians = per_seed.median(axis=1)
        for depth, value in medians.items():
            stats[f"{init}_L{int(depth)}"] = float(value)
        if init == "he_normal":
            continue  # reported, not checked (docs/protocols/dherin2022.md §6 C1, pitfall 10)
        decreasing &= bool(per_seed.notna().all().all()
                           and (per_seed.diff().iloc[1:] < 0).all().all())
        ratios += list(np.log2(per_seed.loc[1.0] / per_seed.loc[16.0]))
    stats["strictly_decreasing"] = decreasing
    stats["log2_ratio_1_16_min"] = float(min(ratios)) if ratios else float("nan")
    return stats


def _sweep_statistics(inputs: ClaimInputs, experiment: str) -> dict[str, float | bool]:
    """ρ, ratio, medians and finiteness of one sweep (``sweep_statistics``), with its diverged
    runs counted and the test accuracy at both ends (never gating, §6)."""
    table = _summary(inputs)
    stats = sweep_statistics(table, experiment)
    rows = table[table["experiment"] == experiment]
    # a diverged run is not among the inputs: count it here, it makes the sweep not finite
    stats["diverged_runs"] = float(len(_excluded(inputs, experiment)))
    stats["all_runs_finite"] = bool(stats["all_runs_finite"] and not stats["diverged_runs"])
    accuracy = rows.groupby("value")["test_accuracy"].median()
    if not accuracy.empty:
        stats["test_accuracy_at_0"] = float(accuracy.iloc[0])
        stats["test_accuracy_at_largest"] = float(accuracy.iloc[-1])
    return stats


def _sweep_claim(claim_id: str, figure: str, experiment: str, statement: str, rho_max: float,
                 ratio_max: float | None, what: str, gating: bool = True,
                 source: str | None = None, *, paper_says: str) -> None:
    """Register a sweep claim: ρ(value, final GC) ≤ rho_max [and ratio ≤ ratio_max], every run
    finite. ``gating=False`` (a suite extension) reports the verdict without gating;
    ``paper_says``: the paper's words for it (``trainlens.claims.Claim``)."""
    criteria = [Criterion("rho", "<=", rho_max, gating)]
    if ratio_max is not None:
        criteria.append(Criterion("ratio", "<=", ratio_max, gating))
    criteria.append(Criterion("all_runs_finite", "==", True, gating))
    statistic = (f"Spearman rho({what}, final GC) over all (value, seed) runs; ratio = median GC "
                 f"at the largest {what} / at 0; gating: every run finite")

    @claims.claim(claim_id, figure, source or SOURCE.format(claim_id), statement, statistic,
                  both(*criteria), paper_says=paper_says)
    def check(inputs: ClaimInputs) -> dict[str, float | bool]:
        return _sweep_statistics(inputs, experiment)


def _excluded(inputs: ClaimInputs, experiment: str) -> pd.DataFrame:
    """The runs of ``experiment`` removed from the inputs because they diverged or failed."""
    removed = inputs.excluded_runs
    if removed is None:
        return pd.DataFrame(columns=["experiment"])
    return removed[removed["experiment"] == experiment]


_sweep_claim("C2", "figR02_l2", "e2", "L2 regularization lowers GC.", -0.8, 0.5, "lambda",
             paper_says=("no number (the paper's body is unread); contribution list (close "
                         'paraphrase): GC is controlled by "(iv) explicit parameter norm '
                         'regularization" (docs/protocols/dherin2022.md §2b)'))
_sweep_claim("C3", "figR03_spectral", "e3", "Spectral-norm regularization lowers GC.", -0.8, 0.5,
             "lambda",
             paper_says=("no number (the paper's body is unread); contribution list (close "
                         'paraphrase): GC is controlled by "spectral norm regularization" '
                         "(docs/protocols/dherin2022.md §2b)"))
_sweep_claim("C4", "figR04_flatness", "e4",
             "Flatness regularization lowers GC (the weakest effect).", -0.7, 0.9, "mu",
             paper_says=("no number (the paper's body is unread); contribution list (close "
                         'paraphrase): GC is controlled by "flatness regularization"; "the weakest'
                         ' effect" is the suite\'s (docs/protocols/dherin2022.md §2b, §6)'))
_sweep_claim("C5", "figR05_explicit_gc", "e5",
             "Explicit GC regularization lowers GC" + NOT_CONFIRMED + ".", -0.9, 0.1, "lambda",
             paper_says=("nothing in the paper's known text: explicit GC regularization is a suite"
                         " check whose presence in the paper is not confirmed "
                         "(docs/protocols/dherin2022.md §2b D-c)"))
# §2b D-a: no source names an input-noise experiment of the paper: reported, never gating
_sweep_claim("C6", "figX01_input_noise", "e6_input_noise",
             "Input noise lowers GC (suite extension: not an experiment of the paper; never "
             "gates).", -0.7, 0.6, "sigma", gating=False,
             source=f"suite extension; {PROTOCOL} §2b D-a, §6 C6",
             paper_says=("not in the paper: no source names an input-noise experiment; a suite "
                         "extension (docs/protocols/dherin2022.md §2b D-a)"))


@claims.claim(
    "C7", "figR06_noise", f"{PROTOCOL} §2b D-b, §6 C7 [reconstructed: the paper's body was "
    "not available]",
    "Label noise lowers GC: label-noise SGD, a fresh share p of every minibatch relabelled at "
    "every step (confounded: noisy labels lower the logits' confidence, and GC on logits scales "
    "with it, pitfall 7).",
    "Spearman rho(p, final GC) over all (p, seed) runs of label-noise SGD; gating: every run "
    "finite. The labelled variant (labels corrupted once, fixed per seed) is reported as *_fixed, "
    "not judged",
    both(Criterion("rho", "<=", -0.8), Criterion("all_runs_finite", "==", True)),
    paper_says=("no number (the paper's body is unread); contribution list (close paraphrase): GC "
                'is controlled by "label noise regularization", read as label-noise SGD '
                "(docs/protocols/dherin2022.md §2b D-b)"))
def c7_label_noise(inputs: ClaimInputs) -> dict[str, float | bool]:
    stats = _sweep_statistics(inputs, "e6_label_noise")
    fixed = _sweep_statistics(inputs, "e6_label_noise_fixed")
    for key in ("rho", "ratio", "gc_at_smallest", "gc_at_largest", "n_runs"):
        if key in fixed:
            stats[f"{key}_fixed"] = fixed[key]
    return stats


def _matched(inputs: ClaimInputs, experiment: str, column: str = "gc") -> dict[str, float | bool]:
    """E7/E8: GC at matched train loss over the runs that reached the target; the others are
    listed by value (diverged: removed from the inputs; not converged: no stop step)."""
    table = _summary(inputs)
    rows = table[table["experiment"] == experiment]
    converged = rows[rows["reached_target"]]
    stats: dict[str, float | bool] = {"rho": spearman(converged["value"], converged[column]),
                                      "n_converged": float(len(converged))}
    for value, gc in converged.groupby("value")[column].median().items():
        stats[f"gc_at_{value:g}"] = float(gc)
    for value, count in rows[~rows["reached_target"]].groupby("value").size().items():
        stats[f"not_converged_at_{value:g}"] = float(count)
    excluded = _excluded(inputs, experiment)
    if len(excluded):
        swept = "train_lr" if experiment == "e7" else "train_batch_size"
        for value, count in excluded.groupby(swept).size().items():
            stats[f"diverged_at_{float(value):g}"] = float(count)
    return stats


@claims.claim(
    "C8", "figR07_learning_rate", SOURCE.format("C8"),
    "A larger learning rate lowers GC (implicit gradient regularization).",
    "Spearman rho(lr, GC at matched train loss) over the runs that reach the target loss; "
    "diverged and unconverged runs excluded and listed",
    both(Criterion("rho", "<=", -0.8)),
    paper_says=("no number (the paper's body is unread); contribution list (close paraphrase): GC "
                'is controlled by "large learning rates" and "implicit gradient regularization" '
                "(docs/protocols/dherin2022.md §2b)"))
def c8_learning_rate(inputs: ClaimInputs) -> dict[str, float | bool]:
    return _matched(inputs, "e7")


@claims.claim(
    "C9", "figR08_batch_size", SOURCE.format("C9"),
    "A smaller batch lowers GC.",
    "Spearman rho(batch size, GC at matched train loss) over the runs that reach the target",
    both(Criterion("rho", ">=", 0.8)),
    paper_says=("no number (the paper's body is unread); contribution list (close paraphrase): GC "
                'is controlled by "small batch sizes" and "implicit gradient regularization" '
                "(docs/protocols/dherin2022.md §2b)"))
def c9_batch_size(inputs: ClaimInputs) -> dict[str, float | bool]:
    return _matched(inputs, "e8")


def _unimodal(values: np.ndarray) -> bool:
    """Non-decreasing up to the maximum and non-increasing after it."""
    peak = int(np.argmax(values))
    return bool((np.diff(values[:peak + 1]) >= 0).all() and (np.diff(values[peak:]) <= 0).all())


@claims.claim(
    "C10", "figR09_double_descent", SOURCE.format("C10"),
    "GC tracks the double-descent shape of the test loss as the width grows" + NOT_CONFIRMED
    + ".",
    "medians over seeds per width: GC unimodal in width; |grid index of argmax GC - argmax test "
    "loss| <= 1; GC(widest)/GC(peak) <= 0.25; |index of argmax GC - interpolation threshold "
    "(first width with train loss < 0.01)| <= 1; gating: the threshold lies inside the grid",
    both(Criterion("gc_unimodal", "==", True), Criterion("peak_vs_test_loss_peak", "<=", 1),
         Criterion("gc_widest_over_peak", "<=", 0.25),
         Criterion("peak_vs_interpolation_threshold", "<=", 1),
         Criterion("threshold_in_grid", "==", True)),
    paper_says=('no number: OpenReview keyword "Double-Descent"; the double-descent experiment is '
                "a suite check whose presence in the paper is not confirmed "
                "(docs/protocols/dherin2022.md §2, §2b D-c)"))
def c10_double_descent(inputs: ClaimInputs) -> dict[str, float | bool]:
    table = _summary(inputs)
    rows = table[table["experiment"].isin(("e9", "e9_resnet"))]
    medians = rows.groupby("value")[["gc", "test_loss", "train_loss"]].median().sort_index()
    if medians.empty:
        return {"threshold_in_grid": False}
    gc = medians["gc"].to_numpy()
    peak = int(np.nanargmax(gc))
    interpolating = np.flatnonzero(medians["train_loss"].to_numpy() < 0.01)
    stats: dict[str, float | bool] = {
        "gc_unimodal": _unimodal(gc), "gc_peak_width": float(medians.index[peak]),
        "gc_peak": float(gc[peak]),
        "test_loss_peak_width": float(medians["test_loss"].idxmax()),
        "peak_vs_test_loss_peak": float(abs(peak - int(np.nanargmax(medians["test_loss"])))),
        "gc_widest_over_peak": float(gc[-1] / gc[peak]),
        "threshold_in_grid": bool(len(interpolating)),
    }
    if len(interpolating):
        stats["interpolation_width"] = float(medians.index[interpolating[0]])
        stats["peak_vs_interpolation_threshold"] = float(abs(peak - interpolating[0]))
    return stats


# The base lr and batch of the paper-scale base configuration (docs/protocols/dherin2022.md §3),
# also the cpu scale's (its grids are the paper's: .get falls back to "paper"); smoke has no base
# inside its grids, so its statistics compare with the smallest lr and the full batch.
BASE = {"paper": {"e7": 0.02, "e8": 128.0}, "smoke": {"e7": 0.05, "e8": 300.0}}


@claims.claim(
    "C11", "figR07_learning_rate", SOURCE.format("C11"),
    "The regularizers improve test accuracy.",
    "test accuracy at the best lr / batch size minus accuracy at the base lr / batch (medians over "
    "converged seeds), in percentage points",
    {"paper": [Criterion("lr_gain_pp", ">=", 0.5, gating=False),
               Criterion("batch_gain_pp", ">=", 0.5, gating=False)]},
    not_evaluated={"smoke": "report only, paper scale only (docs/protocols/dherin2022.md §6 C11); "
                            "at smoke, strong penalties lower test accuracy (protocol evidence)"},
    paper_says=("no statement or number recovered: the test-accuracy check is the suite's (the "
                "paper's body was not read; docs/protocols/dherin2022.md §2, §6 C11)"))
def c11_accuracy(inputs: ClaimInputs) -> dict[str, float | bool]:
    table = _summary(inputs)
    stats: dict[str, float | bool] = {}
    for experiment, name in (("e7", "lr"), ("e8", "batch")):
        rows = table[(table["experiment"] == experiment) & table["reached_target"]]
        accuracy = rows.groupby("value")["test_accuracy"].median()
        base = BASE.get(inputs.scale, BASE["paper"])[experiment]
        if base in accuracy.index:
            stats[f"{name}_gain_pp"] = float(100 * (accuracy.max() - accuracy[base]))
            stats[f"{name}_best"] = float(accuracy.idxmax())
    return stats
