"""nakazato2024 aging statistics (docs/protocols/nakazato2024.md §4.3-4.4, analysis/nakazato2024/
stats.py) on curves with known answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trainlens.cli import load_module

STATS = load_module(Path(__file__).resolve().parents[3] / "analysis" / "nakazato2024" / "stats.py")
best_aging_exponent, chi_ratio, collapse_score = (STATS.best_aging_exponent, STATS.chi_ratio,
                                                  STATS.collapse_score)
early_window_end, late_slope, value_at = STATS.early_window_end, STATS.late_slope, STATS.value_at


def test_power_law_slope_and_window():
    t = np.unique(np.round(np.geomspace(1, 10**4, 40)))
    values = np.where(t < 100, 1.0, 100 / t)  # plateau, then t^-1
    assert late_slope(t, values, 10**4) == pytest.approx(-1.0)
    assert early_window_end(30) == 10 and early_window_end(300) == 20


def _curves(relaxation) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    tau = np.unique(np.round(np.geomspace(1, 3000, 40)))
    return {t_w: (tau, np.exp(-tau / relaxation(t_w))) for t_w in (100, 1000)}


def test_simple_aging_collapses_on_the_scaled_axis_only():
    aging = _curves(lambda t_w: 0.5 * t_w)
    assert collapse_score(aging, scaled=True) < 0.05 < collapse_score(aging, scaled=False)
    assert best_aging_exponent(aging) == pytest.approx(1.0, abs=0.05)
    ratios = [chi_ratio(*aging[t_w], t_w) for t_w in (100, 1000)]
    assert ratios[0] == pytest.approx(ratios[1], rel=0.02)


def test_time_translation_invariance_collapses_on_the_raw_axis_only():
    stationary = _curves(lambda t_w: 50.0)
    assert collapse_score(stationary, scaled=False) < 1e-9 < collapse_score(stationary, True)


def test_value_at_takes_the_nearest_probe_time_in_log():
    assert value_at(np.array([1, 9, 11, 1000]), np.array([1.0, 2, 3, 4]), 10.2) == 3.0
