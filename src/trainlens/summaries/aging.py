"""nakazato2024 aging statistics (docs/protocols/nakazato2024.md §4.3-4.4): log-log slopes and
two-time collapse scores.

Slopes are least-squares fits of log v against log t over the probe times inside a window, with
non-positive or non-finite values excluded (docs/protocols/nakazato2024.md §4.7: Ā underflows to 0
for relu + MSE). The
collapse score measures how well χ(t_w + τ, t_w)/χ(τ = 1) curves for several waiting times fall
onto one curve on a given axis: at each of 20 log-spaced grid points, the spread (max − min over
t_w) of log(χ/χ(τ=1)) interpolated in log τ; the score is the largest spread.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

GRID_POINTS = 20
GRID_RANGE = (0.1, 3.0)


def log_log_slope(t: np.ndarray, values: np.ndarray, lo: float, hi: float) -> float:
    """Slope of log(values) vs log(t) over lo <= t <= hi (NaN with fewer than 2 usable points)."""
    t, values = np.asarray(t, dtype=float), np.asarray(values, dtype=float)
    keep = (t >= lo) & (t <= hi) & (t > 0) & np.isfinite(values) & (values > 0)
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(t[keep]), np.log(values[keep]), 1)[0])


def late_slope(t: np.ndarray, values: np.ndarray, total_steps: int) -> float:
    """The aging slope on the late window [T/10, T] (docs/protocols/nakazato2024.md §4.3)."""
    return log_log_slope(t, values, total_steps / 10, total_steps)


def early_window_end(t_c: float) -> float:
    """End of the early (plateau) window: min(20, t_c/3) (docs/protocols/nakazato2024.md §4.3)."""
    return min(20.0, t_c / 3)


def value_at(t: np.ndarray, values: np.ndarray, when: float) -> float:
    """The value at the probe time closest to ``when`` in log t."""
    t = np.asarray(t, dtype=float)
    index = int(np.argmin(np.abs(np.log(np.maximum(t, 1)) - np.log(max(when, 1)))))
    return float(np.asarray(values, dtype=float)[index])


def collapse_score(curves: Mapping[int, tuple[np.ndarray, np.ndarray]], scaled: bool,
                   mu: float = 1.0) -> float:
    """Spread of log(χ/χ(τ=1)) across waiting times on one axis (docs/protocols/nakazato2024.md
    §4.4).

    ``curves`` maps t_w to (τ, χ) with τ = 1 among the τ. ``scaled``: the grid is τ/t_w^μ in
    [0.1, 3]; otherwise τ in [0.1, 3]·t_w,min (the raw axis). Grid points outside a curve's τ
    range are skipped for that curve; NaN if no grid point is shared by two curves.
    """
    grid = np.geomspace(*GRID_RANGE, GRID_POINTS)
    t_w_min = min(curves)
    spreads = []
    for g in grid:
        logs = []
        for t_w, (tau, chi) in curves.items():
            tau, chi = np.asarray(tau, dtype=float), np.asarray(chi, dtype=float)
            keep = (tau > 0) & (chi > 0) & np.isfinite(chi)
            tau, chi = tau[keep], chi[keep]
            if not np.any(tau == 1):
                continue
            target = g * (t_w**mu if scaled else t_w_min)
            if tau.min() <= target <= tau.max():
                normalised = np.log(chi / chi[tau == 1][0])
                logs.append(np.interp(np.log(target), np.log(tau), normalised))
        if len(logs) >= 2:
            spreads.append(max(logs) - min(logs))
    return float(max(spreads)) if spreads else float("nan")


def best_aging_exponent(curves: Mapping[int, tuple[np.ndarray, np.ndarray]],
                        candidates: np.ndarray | None = None) -> float:
    """μ in [0.3, 1.2] minimising the scaled collapse score (the optional fit of
    docs/protocols/nakazato2024.md §4.4)."""
    candidates = np.linspace(0.3, 1.2, 19) if candidates is None else candidates
    scores = np.array([collapse_score(curves, True, mu) for mu in candidates])
    if np.all(np.isnan(scores)):
        return float("nan")
    return float(candidates[np.nanargmin(scores)])


def chi_ratio(tau: np.ndarray, chi: np.ndarray, t_w: int) -> float:
    """χ(τ = t_w)/χ(τ = t_w/10), log-interpolated (docs/protocols/nakazato2024.md §6 C7)."""
    tau, chi = np.asarray(tau, dtype=float), np.asarray(chi, dtype=float)
    keep = (tau > 0) & (chi > 0)
    log_chi = lambda when: np.interp(np.log(when), np.log(tau[keep]), np.log(chi[keep]))  # noqa: E731
    return float(np.exp(log_chi(t_w) - log_chi(t_w / 10)))
