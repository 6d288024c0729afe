"""dherin2022 claims on small hand-made tables, each statistic compared with a hand computation.

Sweeps have 3 values x 2 seeds; with the values tied in pairs, Spearman's ρ is Pearson's r of the
mid-ranks x = (1.5, 1.5, 3.5, 3.5, 5.5, 5.5) and the GC ranks, worked out in each test's comment
(docs/protocols/dherin2022.md §6). C4 is built to FAIL (gating), C6 to FAIL without gating (a
suite extension, §2b D-a); C1, C2, C7, C8 and C10 pass.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trainlens.claims import ClaimInputs, evaluate
from trainlens.cli import load_module

REPO = Path(__file__).resolve().parents[3]
CLAIMS = load_module(REPO / "analysis" / "dherin2022" / "claims.py").claims
SWEPT = {"e1": "model_depth", "e2": "train_weight_decay", "e4": "train_flatness_penalty",
         "e6_input_noise": "train_input_noise", "e6_label_noise": "train_label_noise",
         "e6_label_noise_fixed": "data_label_noise", "e7": "train_lr", "e9": "model_widths"}
END = 1500  # the last step of every trained run


def _metric(run_id: str, metric: str, value: float, step: int = END, split: str = "train"
            ) -> dict:
    return {"run_id": run_id, "step": step, "epoch": step / 38, "split": split,
            "metric": metric, "value": value}


def _run(experiment: str, value, seed: int, gc: float, test_accuracy: float = 0.9,
         test_loss: float = 0.3, train_loss: float = 0.01, **extra) -> tuple[dict, list[dict]]:
    """One ok run: its swept value, final GC and losses; the GC at step 0 is 10x the final."""
    run_id = f"{experiment}-{value}-{seed}"
    row = {"run_id": run_id, "experiment": experiment, "seed": seed, "status": "ok",
           **{column: np.nan for column in SWEPT.values()}, "stop_step": np.nan,
           "reached_target": False, "model_init": "", SWEPT[experiment]: value, **extra}
    metrics = [_metric(run_id, "geometric_complexity_mean", 10 * gc, step=0),
               _metric(run_id, "geometric_complexity_mean", gc),
               _metric(run_id, "loss", train_loss), _metric(run_id, "loss", test_loss,
                                                            split="test"),
               _metric(run_id, "accuracy", test_accuracy, split="test")]
    return row, metrics


def _tables(runs: list[tuple[dict, list[dict]]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    return (pd.DataFrame([r for r, _ in runs]),
            pd.DataFrame([m for _, ms in runs for m in ms]))


def _sweep(experiment: str, values: tuple, gcs: tuple) -> list[tuple[dict, list[dict]]]:
    """values[i // 2] x seeds (0, 1) with final GC gcs[i], in that order."""
    return [_run(experiment, values[i // 2], i % 2, gc) for i, gc in enumerate(gcs)]


def _check(claim_id: str, runs: pd.DataFrame, metrics: pd.DataFrame,
           excluded_runs: pd.DataFrame | None = None) -> tuple[dict, dict]:
    inputs = ClaimInputs(runs, metrics, "smoke", excluded=0 if excluded_runs is None
                         else len(excluded_runs), excluded_runs=excluded_runs)
    claim = CLAIMS.claims[claim_id]
    return claim.compute(inputs), evaluate(claim, inputs)


# GC ranks (6, 5, 4, 3, 2, 1) against the mid-ranks: dx = (-2, -2, 0, 0, 2, 2), dy = (2.5, 1.5,
# 0.5, -0.5, -1.5, -2.5); Σdx·dy = -16, Σdx² = 16, Σdy² = 17.5: ρ = -16/√(16·17.5) = -4/√17.5
RHO_DECREASING = -4 / math.sqrt(17.5)


def test_c2_rho_and_ratio_by_hand_pass():
    statistics, row = _check("C2", *_tables(_sweep("e2", (0.0, 1e-3, 1e-2),
                                                   (10.0, 8.0, 6.0, 5.0, 2.0, 1.0))))
    assert statistics["rho"] == pytest.approx(RHO_DECREASING)  # -0.956
    # medians: λ = 0 -> (10 + 8)/2 = 9, λ = 1e-2 -> (2 + 1)/2 = 1.5; ratio 1.5/9
    assert statistics["ratio"] == pytest.approx(1.5 / 9)
    assert statistics["gc_at_smallest"] == pytest.approx(9.0)
    assert statistics["all_runs_finite"] is True and statistics["n_runs"] == 6
    assert row["passed"] == "PASS" and row["gating"] == "yes"


def test_c2_a_diverged_run_makes_the_sweep_fail():
    runs, metrics = _tables(_sweep("e2", (0.0, 1e-3, 1e-2), (10.0, 8.0, 6.0, 5.0, 2.0, 1.0)))
    diverged = pd.DataFrame([{"run_id": "e2-x", "experiment": "e2", "status": "diverged"}])
    statistics, row = _check("C2", runs, metrics, excluded_runs=diverged)
    assert statistics["diverged_runs"] == 1 and statistics["all_runs_finite"] is False
    assert row["passed"] == "FAIL" and "all_runs_finite == True" in row["reason"]


def test_c4_no_trend_fails_and_gates():
    # GC (10, 8 | 9, 11 | 9.5, 8.5): ranks (5, 1, 3, 6, 4, 2), dy = (1.5, -2.5, -0.5, 2.5, 0.5,
    # -1.5); Σdx·dy = -3 + 5 + 0 + 0 + 1 - 3 = 0, so ρ = 0; medians 9 and 9, ratio 1
    statistics, row = _check("C4", *_tables(_sweep("e4", (0.0, 0.01, 0.1),
                                                   (10.0, 8.0, 9.0, 11.0, 9.5, 8.5))))
    assert statistics["rho"] == pytest.approx(0.0, abs=1e-12)
    assert statistics["ratio"] == pytest.approx(1.0)
    assert row["passed"] == "FAIL" and row["gating"] == "yes"
    assert "rho <= -0.7" in row["reason"] and "ratio <= 0.9" in row["reason"]


def test_c6_is_a_suite_extension_that_fails_without_gating():
    # GC rising with σ: the mirror of C2's table, ρ = +4/√17.5 = +0.956; ratio 9/1.5 = 6
    statistics, row = _check("C6", *_tables(_sweep("e6_input_noise", (0.0, 0.1, 0.4),
                                                   (1.0, 2.0, 5.0, 6.0, 8.0, 10.0))))
    assert statistics["rho"] == pytest.approx(-RHO_DECREASING)
    assert statistics["ratio"] == pytest.approx(6.0)
    assert row["passed"] == "FAIL" and row["gating"] == "no"  # reported, never gates
    assert "suite extension" in row["source"] and row["figure"].startswith("figX")


def test_c7_judges_label_noise_sgd_and_reports_the_fixed_variant():
    fresh = _sweep("e6_label_noise", (0.0, 0.2, 0.4), (10.0, 8.0, 6.0, 5.0, 2.0, 1.0))
    # fixed corruption: GC (4, 6 | 5, 7 | 9, 8): ranks (1, 3, 2, 4, 6, 5), dy = (-2.5, -0.5,
    # -1.5, 0.5, 2.5, 1.5); Σdx·dy = 5 + 1 + 0 + 0 + 5 + 3 = 14, Σdy² = 17.5: ρ = 14/√280
    fixed = _sweep("e6_label_noise_fixed", (0.0, 0.2, 0.4), (4.0, 6.0, 5.0, 7.0, 9.0, 8.0))
    statistics, row = _check("C7", *_tables(fresh + fixed))
    assert statistics["rho"] == pytest.approx(RHO_DECREASING)
    assert statistics["rho_fixed"] == pytest.approx(14 / math.sqrt(16 * 17.5))  # +0.837
    assert statistics["ratio_fixed"] == pytest.approx(8.5 / 5.0)  # medians 8.5 and 5
    assert statistics["n_runs"] == 6 and statistics["n_runs_fixed"] == 6
    assert row["passed"] == "PASS" and row["gating"] == "yes"  # the variant is not judged


def test_c1_strict_decrease_and_log2_ratio_by_hand():
    runs = []
    for seed in (0, 1):
        for depth in (1, 2, 4, 8, 16, 32):
            # GC_init: LeCun 4·2^-L, Glorot 8·2^(-0.6 L), He flat (reported only)
            for init, gc in (("lecun_normal", 4 * 2.0 ** -depth),
                             ("glorot_uniform", 8 * 2.0 ** (-0.6 * depth)),
                             ("he_normal", 20.0 + seed)):
                row, metrics = _run("e1", depth, seed, gc, model_init=init)
                runs.append(({**row, "run_id": f"{row['run_id']}-{init}"},
                             [{**m, "run_id": f"{row['run_id']}-{init}", "value": gc}
                              for m in metrics if m["metric"] == "geometric_complexity_mean"]))
    statistics, row = _check("C1", *_tables(runs))
    # log2(GC(1)/GC(16)): LeCun 16 - 1 = 15, Glorot 0.6·(16 - 1) = 9; the minimum is 9
    assert statistics["log2_ratio_1_16_min"] == pytest.approx(9.0)
    assert statistics["strictly_decreasing"] is True
    assert statistics["lecun_normal_L4"] == pytest.approx(0.25)
    assert statistics["he_normal_L8"] == pytest.approx(20.5)  # median of 20 and 21
    assert row["passed"] == "PASS"


def test_c8_matched_loss_rho_over_converged_runs_only():
    runs = []
    for i, (lr, gc, reached) in enumerate(((0.05, 6.0, True), (0.1, 5.0, True),
                                           (0.2, 4.0, True), (0.5, 3.0, True),
                                           (0.5, 100.0, False))):
        runs.append(_run("e7", lr, i, gc, stop_step=np.nan if not reached else 100.0,
                         reached_target=reached))
    diverged = pd.DataFrame([{"run_id": "e7-1.0-0", "experiment": "e7", "status": "diverged",
                              "train_lr": 1.0}])
    statistics, row = _check("C8", *_tables(runs), excluded_runs=diverged)
    # converged: lr (0.05, 0.1, 0.2, 0.5) against GC (6, 5, 4, 3): ranks reversed, ρ = -1
    assert statistics["rho"] == pytest.approx(-1.0)
    assert statistics["n_converged"] == 4
    assert statistics["not_converged_at_0.5"] == 1 and statistics["diverged_at_1"] == 1
    assert row["passed"] == "PASS"


def test_c10_double_descent_statistics_by_hand():
    curve = {2: (1.0, 0.5, 0.5), 4: (5.0, 0.9, 0.005), 8: (3.0, 0.6, 0.001), 16: (0.5, 0.4, 0.0)}
    runs = [_run("e9", json.dumps([w]), seed, gc, test_loss=test, train_loss=train)
            for w, (gc, test, train) in curve.items() for seed in (0, 1)]
    statistics, row = _check("C10", *_tables(runs))
    # GC (1, 5, 3, 0.5) rises then falls: unimodal, peak at width 4 (index 1); the test loss
    # peaks at index 1 too; the first train loss < 0.01 is at index 1; 0.5/5 = 0.1 <= 0.25
    assert statistics["gc_unimodal"] is True and statistics["gc_peak_width"] == 4
    assert statistics["peak_vs_test_loss_peak"] == 0
    assert statistics["gc_widest_over_peak"] == pytest.approx(0.1)
    assert statistics["interpolation_width"] == 4
    assert statistics["peak_vs_interpolation_threshold"] == 0
    assert row["passed"] == "PASS" and row["gating"] == "yes"
