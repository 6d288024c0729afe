"""loukas2021 claims on a small hand-made table: each tested statistic against its value computed
by hand (docs/protocols/loukas2021.md §6), and the verdicts they imply, one of them a FAIL."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from trainlens.claims import ClaimInputs, evaluate
from trainlens.cli import load_module

CLAIMS = load_module(Path(__file__).parents[3] / "analysis" / "loukas2021" / "claims.py").claims
EPOCHS = 12  # two early epochs that the last-10-epoch statistics must leave out
FREQUENCIES = (0.25, 0.5, 0.75, 1.0)
CORRUPTIONS = (0.0, 0.2, 0.4, 0.6)


def _rows(run_id: str, metric: str, early: float, late: float, final: float | None = None,
          split: str = "train") -> list[dict]:
    """``early`` in epochs 1-2, ``late`` in epochs 3-12, ``final`` (if given) at epoch 12."""
    values = [early] * 2 + [late] * (EPOCHS - 2)
    if final is not None:
        values[-1] = final
    return [{"run_id": run_id, "step": 10 * k, "epoch": float(k), "split": split,
             "metric": metric, "value": v} for k, v in enumerate(values, start=1)]


def _table() -> tuple[pd.DataFrame, pd.DataFrame]:
    runs, rows = [], []
    # E1a: τ_last10 1, 2, 4, 3 over f (early epochs reversed: a whole-run mean would rank them
    # 4, 3, 2, 1); Corollary 2's V at the last epoch 1, 3, 20, 50 (earlier epochs 1e6, 1, ...);
    # the earlier per-epoch V_k/η² reversed.
    for i, f in enumerate(FREQUENCIES):
        run = f"e1a-{i}"
        runs.append({"run_id": run, "experiment": "e1a", "seed": 0, "status": "ok",
                     "data_frequency": f})
        rows += _rows(run, "trajectory_mean", [100, 60, 20, 0][i], [1, 2, 4, 3][i])
        rows += _rows(run, "update_variance", [1e6, 1, 1e6, 1][i], 7.0, [1, 3, 20, 50][i])
        rows += _rows(run, "update_variance_epoch", 0.0, [4, 3, 2, 1][i])
        # the official embedding 10·Q[u; 0]: τ falls with f (reported, never gating)
        variant = f"e1a_scale10-{i}"
        runs.append({"run_id": variant, "experiment": "e1a_scale10", "seed": 0, "status": "ok",
                     "data_frequency": f})
        rows += _rows(variant, "trajectory_mean", 0.0, [4, 3, 2, 1][i])
    # E1c: τ_last10 1..4 over p; totals Σ_k T_k = 12·c; distance over the last 10 epochs
    # 0.1, 0.3, 0.2, 0.4; variant (b) reversed; final train losses, the largest 0.02.
    for i, p in enumerate(CORRUPTIONS):
        run = f"e1c-{i}"
        runs.append({"run_id": run, "experiment": "e1c", "seed": 0, "status": "ok",
                     "data_label_corruption": p})
        rows += _rows(run, "trajectory_mean", 9.0, i + 1.0)
        rows += _rows(run, "trajectory", [5, 1, 1, 1][i], [1, 2, 3, 4][i])
        rows += _rows(run, "trajectory_official_cnn", 0.0, 4.0 - i)
        rows += _rows(run, "trajectory_raw", 0.0, i + 1.0)
        rows += _rows(run, "distance_from_init", 9.0, [0.1, 0.3, 0.2, 0.4][i])
        rows += _rows(run, "update_variance", 0.0, 0.0, [2, 1, 3, 4][i])
        rows += _rows(run, "loss", 1.0, 0.5, [0.001, 0.002, 0.003, 0.02][i])
    return pd.DataFrame(runs), pd.DataFrame(rows)


@pytest.fixture(scope="module")
def inputs_at():
    runs, metrics = _table()
    return lambda scale: ClaimInputs(runs, metrics, scale)


def _spearman_by_hand(ranks_x: list[int], ranks_y: list[int]) -> float:
    """1 − 6·Σd²/(n(n² − 1)) for rank vectors without ties."""
    n = len(ranks_x)
    return 1 - 6 * sum((a - b) ** 2 for a, b in zip(ranks_x, ranks_y, strict=True)) / (
        n * (n * n - 1))


def test_c1_trajectory_statistics_and_verdict(inputs_at):
    statistics = CLAIMS.claims["C1"].compute(inputs_at("smoke"))
    # τ_last10 = 1, 2, 4, 3: ranks 1, 2, 4, 3 against f's 1, 2, 3, 4 → 1 − 6·2/60 = 0.8
    assert statistics["spearman_f_tau"] == pytest.approx(_spearman_by_hand([1, 2, 3, 4],
                                                                           [1, 2, 4, 3]))
    assert statistics["spearman_f_tau"] == pytest.approx(0.8)
    assert statistics["median_tau_monotone_025_075"] is True  # 1 < 2 < 4
    assert statistics["spearman_f_tau_scale10"] == pytest.approx(-1.0)  # 4, 3, 2, 1
    assert statistics["median_tau_monotone_025_075_scale10"] is False
    # the variant embedding is reported, never gating: C1 passes on e1a alone
    assert evaluate(CLAIMS.claims["C1"], inputs_at("smoke"))["passed"] == "PASS"


def test_c3_variance_fails_the_paper_ratio(inputs_at):
    statistics = CLAIMS.claims["C3"].compute(inputs_at("paper"))
    assert statistics["spearman_f_variance"] == pytest.approx(1.0)  # V = 1, 3, 20, 50
    assert statistics["median_variance_ratio_f1_f025"] == pytest.approx(50.0)  # 50 / 1
    assert statistics["spearman_f_variance_epoch"] == pytest.approx(-1.0)  # earlier V_k/η²
    paper = evaluate(CLAIMS.claims["C3"], inputs_at("paper"))
    assert paper["passed"] == "FAIL" and paper["gating"] == "yes"
    assert "median_variance_ratio_f1_f025 >= 100.0" in paper["reason"]  # 50 < 100
    assert evaluate(CLAIMS.claims["C3"], inputs_at("smoke"))["passed"] == "PASS"  # no ratio


def test_c9_corruption_statistics_and_the_memorisation_gate(inputs_at):
    statistics = CLAIMS.claims["C9"].compute(inputs_at("smoke"))
    assert statistics["e1c_spearman_p_tau"] == pytest.approx(1.0)
    assert statistics["e1c_spearman_p_total"] == pytest.approx(  # totals 20, 22, 32, 42
        _spearman_by_hand([1, 2, 3, 4], [1, 2, 3, 4]))
    assert statistics["e1c_spearman_p_tau_b"] == pytest.approx(-1.0)
    assert statistics["e1c_spearman_p_tau_c"] == pytest.approx(1.0)
    assert statistics["e1c_spearman_p_distance"] == pytest.approx(0.8)  # ranks 1, 3, 2, 4
    assert statistics["e1c_spearman_p_variance"] == pytest.approx(0.8)  # 2, 1, 3, 4
    assert statistics["e1c_max_final_train_loss"] == pytest.approx(0.02)
    assert statistics["e1c_variant_b_passes"] is False
    assert statistics["e1c_variant_c_passes"] is True
    assert "e1c_spearman_p_tau_logit" not in statistics  # MSE: no separate logit variant
    smoke = evaluate(CLAIMS.claims["C9"], inputs_at("smoke"))
    # τ and d pass; the gate (0.02 ≥ 0.0125) does not: FAIL, and the reason says which
    assert smoke["passed"] == "FAIL"
    assert smoke["reason"].startswith("failed: e1c_max_final_train_loss < 0.0125")
    assert "e1c_spearman_p_tau" not in smoke["reason"]


def test_c9_paper_criteria_leave_out_the_classification_distance():
    # §2b P-d: the E1b distance is reported, never a PASS/FAIL criterion
    criteria = {c.statistic for c in CLAIMS.claims["C9"].criteria["paper"]}
    assert "e1b_spearman_p_distance" not in criteria
    assert {"e1b_spearman_p_tau", "e1b_spearman_p_variance"} <= criteria
