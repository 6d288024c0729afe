"""The generic curve statistics (trainlens.stats.curves) on curves with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from trainlens.stats.curves import ema, log_log_slope


def test_log_log_slope_of_a_plateau_then_a_power_law():
    t = np.unique(np.round(np.geomspace(1, 10**4, 40)))
    values = np.where(t < 100, 1.0, 100 / t)  # plateau, then t^-1
    assert log_log_slope(t, values, 1000, 10**4) == pytest.approx(-1.0)
    assert log_log_slope(t, values, 1, 20) == pytest.approx(0.0)


def test_zero_values_are_excluded_not_logged():
    t = np.array([1.0, 10, 100, 1000])
    values = np.array([1.0, 0.1, 0.0, 0.001])
    assert log_log_slope(t, values, 1, 1000) == pytest.approx(-1.0)
    assert np.isnan(log_log_slope(t, np.zeros(4), 1, 1000))


def test_ema_starts_at_the_first_value_then_mixes_by_its_weight():
    smoothed = ema(np.array([4.0, 0.0, 8.0]), weight=0.75)
    # 4; 0.75·4 + 0.25·0 = 3; 0.75·3 + 0.25·8 = 4.25
    np.testing.assert_allclose(smoothed, [4.0, 3.0, 4.25])
