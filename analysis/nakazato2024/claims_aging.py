"""nakazato2024 claim checks (docs/protocols/nakazato2024.md §6), one function per claim; this
file begins the paper's claim set with the aging claims C1-C6, claims_features.py adds C7-C10
(two-time response, features, activations), claims.py gathers them.

RECONSTRUCTED: the paper's text was not available. Every claim tests the protocol's reconstruction
of the abstract's statements, with thresholds calibrated on the protocol's reference implementation
before any run of this suite; none is a number from the paper. Slope statistics are medians over
seeds of per-run values (docs/protocols/nakazato2024.md §6); every claim is evaluated at both
scales with the same thresholds (smoke "same").
"""

from __future__ import annotations

import pandas as pd

from analysis.nakazato2024.stats import (
    aging_table,
    final_values,
    settings,
)
from trainlens.claims import ClaimInputs, ClaimSet, Criterion, at_every_scale

claims = ClaimSet("nakazato2024")
# Known causes of FAILs, by scale (REPORT.md "What failed, and why"; claims.tsv known_cause)
_RELU_KINKS = (
    "ReLU: the probe step crosses activation kinks, so the first-order error is not second order "
    "in the probe lr (the smooth activations' error ratios, reported beside, stay near 10; "
    "tests/unit/probes/test_response.py shows the kinks crossed at lr 1e-2)")
RELU_KINKS = {"smoke": _RELU_KINKS, "cpu": _RELU_KINKS}
ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")
FRAGILITY = ("geometric_complexity", "lipschitz_max", "boundary_distance",
             "parameter_sensitivity", "ablation_share")


both = at_every_scale  # the same criteria at every scale (trainlens.claims)


def _e1_ce(inputs: ClaimInputs) -> pd.DataFrame:
    """The aging statistics of the E1 cross-entropy runs."""
    table = aging_table(inputs.runs, inputs.metrics)
    return table[(table["experiment"] == "e1") & (table["loss"] == "logistic")]


def _ce_cells(inputs: ClaimInputs, column: str, ce: pd.DataFrame | None = None) -> pd.Series:
    """Median over seeds of ``column`` per activation x {GD, SGD bs 1}, E1 cross-entropy runs."""
    ce = _e1_ce(inputs) if ce is None else ce
    medians = ce.groupby(["activation", "method"])[column].median()
    medians.index = [f"{a}_{m.replace(' ', '')}" for a, m in medians.index]
    return medians


def _cells(medians: pd.Series, prefix: str) -> dict[str, float]:
    return {f"{prefix}_{cell}": float(v) for cell, v in medians.items()}


@claims.claim(
    "C1", "figR01_response_factors",
    "abstract (aging); docs/protocols/nakazato2024.md §6 C1 [reconstructed]",
    "The training response shows power-law-like aging under cross-entropy.",
    "median over seeds of the late slope of log Ā vs log t on [T/10, T], every activation x "
    "{GD, SGD bs 1}: min and max over the 8 cells",
    both(Criterion("late_slope_min", ">=", -1.3), Criterion("late_slope_max", "<=", -0.7)),
    paper_says=("abstract (paraphrase): the training response can be constant or show "
                "power-law-like aging; no exponent recovered, the band around α ≈ 1 is the suite's"
                " (docs/protocols/nakazato2024.md §1, §2)"))
def c1_aging(inputs: ClaimInputs) -> dict[str, float | bool]:
    medians = _ce_cells(inputs, "late_slope")
    return {"late_slope_min": float(medians.min()), "late_slope_max": float(medians.max()),
            **_cells(medians, "slope")}


@claims.claim(
    "C2", "figR01_response_factors", "docs/protocols/nakazato2024.md §6 C2 [reconstructed]",
    "Before aging the response has an early plateau.",
    "median early slope on [1, min(20, t_c/3)] per activation x method (min over cells); every "
    "cross-entropy run reaches train accuracy 1 (t_c exists)",
    both(Criterion("early_slope_min", ">", -0.2), Criterion("every_run_has_t_c", "==", True)),
    paper_says=("no statement or number recovered: the plateau before aging is the suite's "
                "reconstruction (docs/protocols/nakazato2024.md §2, §4.3)"))
def c2_plateau(inputs: ClaimInputs) -> dict[str, float | bool]:
    ce = _e1_ce(inputs)
    medians = _ce_cells(inputs, "early_slope", ce)
    return {"early_slope_min": float(medians.min()),
            "every_run_has_t_c": bool(ce["t_c"].notna().all() and len(ce) > 0),
            **_cells(medians, "early")}


@claims.claim(
    "C3", "figR01_response_factors",
    "abstract TL;DR (near-constant kernel); docs/protocols/nakazato2024.md §6 C3",
    "The interaction kernel stays nearly constant while the response ages.",
    "max over cells of |median late slope of mean off-diagonal Θ| and of |K̂(T) − K̂(T/10)|",
    both(Criterion("max_abs_ntk_slope", "<=", 0.35), Criterion("max_abs_khat_drift", "<=", 0.15)),
    paper_says=('machine-written TL;DR (weak evidence): "aging with a near-constant interaction '
                'kernel"; no number (docs/protocols/nakazato2024.md §2)'))
def c3_kernel(inputs: ClaimInputs) -> dict[str, float | bool]:
    ce = _e1_ce(inputs)
    slopes, drifts = _ce_cells(inputs, "ntk_slope", ce), _ce_cells(inputs, "khat_drift", ce)
    return {"max_abs_ntk_slope": float(slopes.abs().max()),
            "max_abs_khat_drift": float(drifts.abs().max()),
            "largest_drift_cell_is_sigmoid": bool(drifts.abs().idxmax().startswith("sigmoid"))}


@claims.claim(
    "C4", "figR01_response_factors", "abstract (factors); docs/protocols/nakazato2024.md §6 C4",
    "The response factorises into an error factor times a kernel.",
    "max over cells of |median (slope(Ā) − (slope(ē) + slope(Θ)))| on the late window",
    both(Criterion("max_abs_factor_gap", "<=", 0.1)),
    paper_says=("abstract (paraphrase): in a very simple network the response splits into factors "
                "set by the training stage, the activation and the training method; no number "
                "(docs/protocols/nakazato2024.md §1)"))
def c4_factorisation(inputs: ClaimInputs) -> dict[str, float | bool]:
    gaps = _ce_cells(inputs, "factor_gap")
    return {"max_abs_factor_gap": float(gaps.abs().max())}


@claims.claim(
    "C5", "figR02_factorization_check", "docs/protocols/nakazato2024.md §4.2, §6 C5 [derived]",
    "The first-order probe is exact in the limit η_p → 0.",
    "E2, every activation and probe time: relative L2 error of first-order vs finite-step R at "
    "η_p = 1e-3 (max), and error(1e-2)/error(1e-3) (min and max)",
    both(Criterion("max_relative_error_1e-3", "<=", 0.05),
         Criterion("error_ratio_min", ">=", 5.0), Criterion("error_ratio_max", "<=", 20.0)),
    known_causes=RELU_KINKS,
    paper_says=("not a claim of the paper: the first-order limit of the suite's response probe, a "
                "derivation (docs/protocols/nakazato2024.md §4.2)"))
def c5_first_order(inputs: ClaimInputs) -> dict[str, float | bool]:
    rows = inputs.metrics[inputs.metrics["metric"] == "response_relative_error"]
    wide = rows.pivot_table(index=["run_id", "step"], columns="split", values="value")
    ratio = wide["eta_p=0.01"] / wide["eta_p=0.001"]
    activation = settings(inputs.runs)["activation"].reindex(wide.index.get_level_values(0))
    smooth = (activation != "relu").to_numpy()  # reported: a finite ReLU step can cross kinks
    return {"max_relative_error_1e-3": float(wide["eta_p=0.001"].max()),
            "error_ratio_min": float(ratio.min()), "error_ratio_max": float(ratio.max()),
            "max_relative_error_1e-4": float(wide["eta_p=0.0001"].max()),
            "smooth_activations_error_ratio_min": float(ratio[smooth].min()),
            "smooth_activations_error_ratio_max": float(ratio[smooth].max())}


@claims.claim(
    "C6", "figR03_loss_dependence",
    "abstract (constant response or aging); docs/protocols/nakazato2024.md §6 C6",
    "The loss decides the regime: a constant response at a non-interpolating GD fixed point, "
    "exponential relaxation under MSE when the net interpolates.",
    "linear + MSE + GD: |median late slope of Ā|; relu + MSE + GD: median Ā(T)/Ā(T/10)",
    both(Criterion("linear_mse_gd_abs_slope", "<", 0.05),
         Criterion("relu_mse_gd_late_ratio", "<", 1e-3)),
    paper_says=("abstract (paraphrase): the response can be constant or show aging; which loss "
                "gives which regime, and MSE's exponential relaxation, are the suite's "
                "reconstruction (docs/protocols/nakazato2024.md §7)"))
def c6_regimes(inputs: ClaimInputs) -> dict[str, float | bool]:
    table = aging_table(inputs.runs, inputs.metrics)
    gd = table[(table["experiment"] == "e1") & (table["loss"] == "mse") & (table["method"] == "GD")]
    by_activation = gd.groupby("activation")
    loss = final_values(inputs.metrics, "train_loss")
    linear = gd.index[gd["activation"] == "linear"]
    return {"linear_mse_gd_abs_slope": float(abs(by_activation["late_slope"].median()["linear"])),
            "relu_mse_gd_late_ratio": float(by_activation["late_ratio"].median()["relu"]),
            "linear_mse_gd_final_loss": float(loss.reindex(linear).median()),
            "relu_mse_gd_late_slope": float(by_activation["late_slope"].median()["relu"])}
