"""fort2019 claims (analysis/fort2019/claims.py) on small hand-made tables: every statistic is
compared with a value worked out by hand from the numbers written here (docs/protocols/
fort2019.md §6): C1 (FAILs on the sign margin), C3 (a NaN run FAILs it, the NaN rule), C6 (v1's
matched losses, docs/protocols/fort2019.md §2b F-a, with a closed-form interpolation) and C9 (both
ξ estimators)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from trainlens.claims import ClaimInputs, evaluate
from trainlens.cli import load_module

REPO = Path(__file__).resolve().parents[3]
CLAIMS = load_module(REPO / "analysis" / "fort2019" / "claims.py").claims.claims
EPOCHS = [0.0, 1.0, 2.0, 3.0, 4.0]
VAL_LOSS = [2.0, 1.0, 0.5, 0.8, 0.9]  # lowest at epoch 2: e* = 2, so e*+1 = 3


def _run(run_id: str, experiment: str, lr: float = 1e-3, model: str = "mlp") -> dict:
    return {"run_id": run_id, "experiment": experiment, "seed": 0, "train_lr": lr,
            "data_name": "digits", "model_name": model, "status": "ok"}


def _rows(run_id: str, split: str, metric: str, values: list[float],
          epochs: list[float] = EPOCHS) -> list[dict]:
    return [{"run_id": run_id, "step": int(10 * e), "epoch": e, "split": split,
             "metric": metric, "value": float(v)} for e, v in zip(epochs, values)]


def _e1_run(run_id: str, within_cos, between_cos, within_sign, between_sign,
            tt_within_cos=None) -> list[dict]:
    """One E1 run: val loss, and the same stiffness on the three pair modes (tt may differ)."""
    rows = _rows(run_id, "val", "checkpoint_loss", VAL_LOSS)
    for mode in ("tt", "tv", "vv"):
        within = tt_within_cos if mode == "tt" and tt_within_cos is not None else within_cos
        for name, values in (("stiffness_within_cos", within),
                             ("stiffness_between_cos", between_cos),
                             ("stiffness_within_sign", within_sign),
                             ("stiffness_between_sign", between_sign)):
            rows += _rows(run_id, mode, name, values)
    return rows


# run A: Δ_cos = 0.4, 0.4, 0.3, 0.2 | 0.05 (epochs 0-3 early, 4 late); on tt the epoch-2
# within value is 0.18, so Δ_cos there is 0.08; Δ_sign = 0.7, 0.5, 0.3, 0.25 | 0.1
RUN_A = _e1_run("a", within_cos=[0.5, 0.6, 0.4, 0.3, 0.2], between_cos=[0.1, 0.2, 0.1, 0.1, 0.15],
                within_sign=[0.9, 0.8, 0.7, 0.6, 0.3], between_sign=[0.2, 0.3, 0.4, 0.35, 0.2],
                tt_within_cos=[0.5, 0.6, 0.18, 0.3, 0.2])
# run B: flat, Δ_cos = 0.1 and Δ_sign = 0.08 at every checkpoint
RUN_B = _e1_run("b", within_cos=[0.4] * 5, between_cos=[0.3] * 5, within_sign=[0.5] * 5,
                between_sign=[0.42] * 5)


def _inputs(runs: list[dict], rows: list[dict]) -> ClaimInputs:
    return ClaimInputs(pd.DataFrame(runs), pd.DataFrame(rows), "smoke")


def test_c1_takes_the_worst_margin_over_runs_modes_and_checkpoints_and_fails_on_sign():
    inputs = _inputs([_run("a", "e1_fc"), _run("b", "e1_cnn", model="fort_cnn")], RUN_A + RUN_B)
    stats = CLAIMS["C1"].compute(inputs)
    # early (epoch ≤ 3): Δ_cos min(0.4, 0.4, 0.08 on tt, 0.2, B's 0.1) = 0.08; Δ_sign min
    # (0.7, 0.5, 0.3, 0.25, B's 0.08) = 0.08; late (epoch 4): min(0.05, 0.1, 0.1, 0.08) = 0.05
    assert stats["delta_cos_min_early"] == pytest.approx(0.08)
    assert stats["delta_sign_min_early"] == pytest.approx(0.08)
    assert stats["delta_min_late"] == pytest.approx(0.05)
    assert stats["nan_statistics"] == 0
    row = evaluate(CLAIMS["C1"], inputs)
    assert row["passed"] == "FAIL" and row["reason"] == "failed: delta_sign_min_early >= 0.1"


def test_c3_passes_on_one_overfitting_run_by_hand():
    stats = CLAIMS["C3"].compute(_inputs([_run("a", "e1_fc")], RUN_A))
    # from e* = 2: within vv 0.4, 0.3, 0.2 against epochs 2, 3, 4 → ρ = −1; last/max = 0.2/0.6;
    # between max 0.2 − last 0.15 = 0.05; 3 checkpoints at or after e*
    assert stats["rho_within_max"] == pytest.approx(-1.0)
    assert stats["within_last_over_max"] == pytest.approx(1 / 3)
    assert stats["between_drop_min"] == pytest.approx(0.05)
    assert stats["checkpoints_from_e_star_min"] == 3
    assert evaluate(CLAIMS["C3"], _inputs([_run("a", "e1_fc")], RUN_A))["passed"] == "PASS"


def test_c3_a_nan_run_is_not_dropped_from_the_worst_case_and_fails_with_the_reason():
    inputs = _inputs([_run("a", "e1_fc"), _run("b", "e1_cnn", model="fort_cnn")], RUN_A + RUN_B)
    stats = CLAIMS["C3"].compute(inputs)
    # run B's within stiffness is constant after e*: its Spearman ρ is NaN (undefined). Dropping
    # it would leave run A's −1 and a PASS on ρ; the NaN rule keeps it
    assert math.isnan(stats["rho_within_max"])
    assert stats["nan_statistics"] == 1 and stats["nan_in_rho_within_max"] == 1
    # the other statistics are finite in both runs: B's last/max = 1, B's drop = 0
    assert stats["within_last_over_max"] == pytest.approx(1.0)
    assert stats["between_drop_min"] == pytest.approx(0.0)
    row = evaluate(CLAIMS["C3"], inputs)
    assert row["passed"] == "FAIL"
    assert "failed: rho_within_max <= -0.6" in row["reason"]
    assert "failed: nan_statistics == 0" in row["reason"]


LRS = [1e-4, 3e-4, 1e-3, 3e-3]
# train loss per lr at epochs 0-3: 0.017 is reached by all but lr 1e-4, 0.056 and 0.177 by all
LOSSES = [[2.0, 0.3, 0.1, 0.05], [2.0, 0.2, 0.05, 0.02], [2.0, 0.1, 0.03, 0.01],
          [2.0, 0.05, 0.02, 0.015]]
# within-class S_cos wanted at loss 0.177 (ρ = −1) and at 0.056 (ranks 2, 4, 3, 1 → ρ = −0.4)
WITHIN_177, WITHIN_056 = [0.8, 0.6, 0.4, 0.2], [0.3, 0.7, 0.6, 0.1]
BETWEEN = [0.4, 0.3, 0.2, 0.1]  # constant in loss, falling with lr: ρ = −1 at every loss


def _c6_table(losses: list[list[float]]) -> tuple[list[dict], list[dict]]:
    """E2 runs whose S_within is c + d·ln(loss) at every checkpoint: the interpolation, linear
    in log loss, is then exact, so S at a loss L is c + d·ln(L) by hand."""
    runs, rows = [], []
    slope_base = math.log(0.177) - math.log(0.056)
    for index, (lr, loss) in enumerate(zip(LRS, losses)):
        run_id = f"lr{index}"
        runs.append(_run(run_id, "e2_digits_fc", lr))
        d = (WITHIN_177[index] - WITHIN_056[index]) / slope_base
        c = WITHIN_177[index] - d * math.log(0.177)
        epochs = EPOCHS[:4]
        rows += _rows(run_id, "train", "checkpoint_loss", loss, epochs)
        rows += _rows(run_id, "vv", "stiffness_within_cos", [c + d * math.log(v) for v in loss],
                      epochs)
        rows += _rows(run_id, "vv", "stiffness_between_cos", [BETWEEN[index]] * 4, epochs)
        rows += _rows(run_id, "vv", "stiffness_within_sign", [0.0] * 4, epochs)
        rows += _rows(run_id, "vv", "stiffness_between_sign", [0.0] * 4, epochs)
    return runs, rows


def test_c6_is_evaluated_at_each_matched_loss_every_lr_reaches_and_fails_at_one():
    runs, rows = _c6_table(LOSSES)
    inputs = _inputs(runs, rows)
    stats = CLAIMS["C6"].compute(inputs)
    # 0.017 is skipped (lr 1e-4 stops at 0.05); at 0.177 ρ_within = −1, at 0.056 it is
    # 1 − 6·(1 + 4 + 0 + 9)/(4·15) = −0.4: the max over losses is −0.4 > −0.5
    assert stats["matched_losses_used_min"] == 2
    assert stats["digits FC at loss 0.177: rho_within"] == pytest.approx(-1.0)
    assert stats["digits FC at loss 0.056: rho_within"] == pytest.approx(-0.4)
    assert "digits FC at loss 0.017: rho_within" not in stats
    assert stats["rho_within_max"] == pytest.approx(-0.4)
    assert stats["rho_between_max"] == pytest.approx(-1.0)
    assert stats["all_reach_L_star"] is True
    row = evaluate(CLAIMS["C6"], inputs)
    assert row["passed"] == "FAIL"
    assert row["reason"] == "failed: rho_within_max <= -0.5 (non-gating)"


def test_c6_falls_back_to_the_floored_largest_final_loss_when_no_matched_loss_is_reached():
    # lr 1e-4 ends at 0.25: no matched loss is reached by every lr, so L* = max(0.1, 0.25)
    runs, rows = _c6_table([[2.0, 0.6, 0.4, 0.25], *LOSSES[1:]])
    stats = CLAIMS["C6"].compute(_inputs(runs, rows))
    assert stats["matched_losses_used_min"] == 0
    assert stats["digits FC: L_star"] == pytest.approx(0.25)
    assert stats["rho_between_max"] == pytest.approx(-1.0)  # constant in loss: BETWEEN's order


def _c9_table() -> tuple[list[dict], list[dict]]:
    """ξ found everywhere; the line-fit ξ falls with lr, the first-crossing ξ rises with it."""
    fit = {1.0: [1.0, 0.9, 0.8, 0.7], 2.0: [0.9, 0.8, 0.7, 0.6]}
    crossing = {1.0: [0.6, 0.7, 0.8, 0.9], 2.0: [0.5, 0.6, 0.7, 0.8]}
    runs, rows = [], []
    for index, lr in enumerate(LRS):
        run_id = f"lr{index}"
        runs.append(_run(run_id, "e2_digits_fc", lr))
        for epoch in (1.0, 2.0):
            for name, value in (("xi_fit", fit[epoch][index]),
                                ("xi_crossing", crossing[epoch][index]),
                                ("xi_fit_status", 0), ("xi_crossing_status", 0)):
                rows += _rows(run_id, "vv", name, [value], [epoch])
    return runs, rows


def test_c9_must_hold_for_both_xi_estimators():
    runs, rows = _c9_table()
    inputs = _inputs(runs, rows)
    stats = CLAIMS["C9"].compute(inputs)
    # line fit: ξ falls with lr at the last checkpoint and on average → ρ = −1, ξ(3e-3) 0.6 <
    # ξ(1e-4) 0.9; first crossing: ξ rises with lr → ρ = +1, 0.8 > 0.5
    assert stats["rho_last_max_fit"] == pytest.approx(-1.0)
    assert stats["rho_mean_max_fit"] == pytest.approx(-1.0)
    assert stats["xi_max_lr_below_min_lr_fit"] is True
    assert stats["rho_last_max_crossing"] == pytest.approx(1.0)
    assert stats["rho_mean_max_crossing"] == pytest.approx(1.0)
    assert stats["xi_max_lr_below_min_lr_crossing"] is False
    assert stats["n_lrs_min"] == 4 and stats["censored_share"] == 0
    row = evaluate(CLAIMS["C9"], inputs)
    assert row["passed"] == "FAIL"
    assert "rho_last_max_crossing" in row["reason"] and "_fit" not in row["reason"]
