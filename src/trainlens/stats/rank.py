"""Spearman's rank correlation for the claims: NaN rather than a warning or an error where it is
undefined (too few points, a constant side), so that a claim reports NaN and FAILs."""

from __future__ import annotations

import pandas as pd
from scipy.stats import spearmanr


def spearman(x: pd.Series, y: pd.Series) -> float:
    """Spearman's ρ; NaN when either side is constant or there are fewer than 3 points."""
    if len(x) < 3 or x.nunique() < 2 or y.nunique() < 2:
        return float("nan")
    return float(spearmanr(x, y).statistic)


def spearman_present(x: pd.Series, y: pd.Series) -> float:
    """Spearman's ρ over the pairs where both values are present; NaN with fewer than 3."""
    ok = x.notna() & y.notna()
    if ok.sum() < 3:
        return float("nan")
    return float(spearmanr(x[ok], y[ok]).statistic)
