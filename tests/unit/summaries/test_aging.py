"""nakazato2024 aging statistics (§4.3-4.4) on curves with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from trainlens.summaries.aging import (
    best_aging_exponent,
    chi_ratio,
    collapse_score,
    early_window_end,
    late_slope,
    log_log_slope,
    value_at,
)


def test_power_law_slope_and_window():
    t = np.unique(np.round(np.geomspace(1, 10**4, 40)))
    values = np.where(t < 100, 1.0, 100 / t)  # plateau, then t^-1
    assert late_slope(t, values, 10**4) == pytest.approx(-1.0)
    assert log_log_slope(t, values, 1, 20) == pytest.approx(0.0)
    assert early_window_end(30) == 10 and early_window_end(300) == 20


def test_zero_values_are_excluded_not_logged():
    t = np.array([1.0, 10, 100, 1000])
    values = np.array([1.0, 0.1, 0.0, 0.001])
    assert log_log_slope(t, values, 1, 1000) == pytest.approx(-1.0)
    assert np.isnan(log_log_slope(t, np.zeros(4), 1, 1000))


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
