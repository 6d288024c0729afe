"""Spearman's ρ of the claims (trainlens.stats.rank): hand-ranked values, and NaN where it is
undefined."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trainlens.stats.rank import spearman, spearman_present


def test_spearman_of_hand_ranked_values():
    x = pd.Series([1.0, 2.0, 3.0, 4.0])
    # ranks of y: 1, 3, 2, 4; Σd² = 0 + 1 + 1 + 0 = 2; ρ = 1 − 6·2/(4·15) = 0.8
    assert spearman(x, pd.Series([10.0, 30.0, 20.0, 40.0])) == pytest.approx(0.8)
    assert spearman(x, -x) == pytest.approx(-1.0)


def test_spearman_is_nan_for_constant_or_too_few_values():
    assert np.isnan(spearman(pd.Series([1.0, 2.0, 3.0]), pd.Series([5.0, 5.0, 5.0])))
    assert np.isnan(spearman(pd.Series([1.0, 2.0]), pd.Series([1.0, 2.0])))


def test_spearman_present_uses_only_the_complete_pairs():
    x = pd.Series([1.0, 2.0, np.nan, 3.0, 4.0])
    y = pd.Series([10.0, 30.0, 99.0, 20.0, np.nan])
    assert spearman_present(x, y) == pytest.approx(0.5)  # pairs (1,10), (2,30), (3,20)
    assert np.isnan(spearman_present(x, pd.Series([1.0, np.nan, np.nan, np.nan, 2.0])))
