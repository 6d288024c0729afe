"""Statistics of one curve: the slope of a log-log fit over a window, and exponential smoothing."""

from __future__ import annotations

import numpy as np


def log_log_slope(t: np.ndarray, values: np.ndarray, lo: float, hi: float) -> float:
    """Slope of log(values) vs log(t) over lo <= t <= hi (NaN with fewer than 2 usable points);
    non-positive or non-finite values are left out (a quantity that underflows to 0)."""
    t, values = np.asarray(t, dtype=float), np.asarray(values, dtype=float)
    keep = (t >= lo) & (t <= hi) & (t > 0) & np.isfinite(values) & (values > 0)
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(t[keep]), np.log(values[keep]), 1)[0])


def ema(values: np.ndarray, weight: float = 0.95) -> np.ndarray:
    """s_0 = x_0, s_k = w·s_{k−1} + (1 − w)·x_k along axis 0 (loukas2021's official smoothing)."""
    out = np.empty_like(values, dtype=float)
    acc = values[0]
    for k, value in enumerate(values):
        acc = value if k == 0 else weight * acc + (1 - weight) * value
        out[k] = acc
    return out
