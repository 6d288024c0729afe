"""Stiffness against input distance and the dynamical critical length ξ (fort2019 §4).

distance(X1, X2) = 1 − X1·X2 / (‖X1‖‖X2‖) ∈ [0, 2] on the preprocessed inputs the network sees.
The estimator of ξ is the suite's [inferred] (the paper's fit range and binning were not
recovered): bin the within-class pairs by distance (equal-count bins, or fixed-width bins with
too-small ones dropped), then

- **fit**: a count-weighted line S(d) = a + b·d through the bin means; ξ = −a/b when b < 0 and
  the root lies inside the observed range [d_min, d_max]; a root beyond d_max is censored
  (``above``: never extrapolated), a root below d_min is censored (``below``), and b ≥ 0 gives
  no ξ (``no_decay``);
- **crossing**: the first zero crossing of the binned curve, linearly interpolated between the
  two bins around it, with the same censoring words.

The pairs and their distances come from the probe side,
:func:`trainlens.probes.class_stiffness.pair_values`; this module is numpy only (figures and
claims import ``CENSORING``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CENSORING = ("found", "above", "below", "no_decay")


@dataclass(frozen=True)
class DistanceCurve:
    """Binned stiffness: per bin the mean distance (centre), mean S, its SEM and pair count."""

    centre: np.ndarray
    mean: np.ndarray
    sem: np.ndarray
    count: np.ndarray


def bin_by_distance(d: np.ndarray, s: np.ndarray, n_bins: int = 20, width: float | None = None,
                    min_pairs: int = 30) -> DistanceCurve:
    """Equal-count bins (``width`` None: ``n_bins`` bins of sorted distances), or bins of
    ``width`` on [0, 2] keeping those with at least ``min_pairs`` pairs."""
    order = np.argsort(d, kind="stable")
    d, s = d[order], s[order]
    if width is None:
        parts = [p for p in np.array_split(np.arange(len(d)), n_bins) if len(p)]
    else:
        edges = np.arange(0.0, 2.0 + width, width)
        which = np.clip(np.digitize(d, edges) - 1, 0, len(edges) - 2)
        parts = [np.flatnonzero(which == k) for k in range(len(edges) - 1)]
        parts = [p for p in parts if len(p) >= min_pairs]
    count = np.array([len(p) for p in parts], dtype=np.int64)
    sem = np.array([s[p].std(ddof=1) / np.sqrt(len(p)) if len(p) > 1 else np.nan for p in parts])
    return DistanceCurve(np.array([d[p].mean() for p in parts]),
                         np.array([s[p].mean() for p in parts]), sem, count)


@dataclass(frozen=True)
class CriticalLength:
    """ξ and how it was found: ``status`` in CENSORING; ``value`` is NaN unless ``found``."""

    value: float
    status: str


def critical_length_fit(curve: DistanceCurve) -> CriticalLength:
    """ξ = −a/b of the count-weighted least-squares line through the bin means
    (docs/protocols/fort2019.md §4 step 4)."""
    if len(curve.centre) < 2:
        return CriticalLength(float("nan"), "no_decay")
    w = curve.count.astype(np.float64)
    x_mean = np.average(curve.centre, weights=w)
    y_mean = np.average(curve.mean, weights=w)
    slope = np.sum(w * (curve.centre - x_mean) * (curve.mean - y_mean)) / np.sum(
        w * (curve.centre - x_mean) ** 2)
    if not slope < 0:
        return CriticalLength(float("nan"), "no_decay")
    root = x_mean - y_mean / slope
    if root > curve.centre.max():
        return CriticalLength(float("nan"), "above")
    if root < curve.centre.min():
        return CriticalLength(float("nan"), "below")
    return CriticalLength(float(root), "found")


def critical_length_crossing(curve: DistanceCurve) -> CriticalLength:
    """ξ at the first sign change of the binned curve from > 0 to ≤ 0, interpolated linearly."""
    mean, centre = curve.mean, curve.centre
    if len(mean) == 0:
        return CriticalLength(float("nan"), "no_decay")
    if mean[0] <= 0:
        return CriticalLength(float("nan"), "below")
    below = np.flatnonzero(mean <= 0)
    if len(below) == 0:
        return CriticalLength(float("nan"), "above")
    k = below[0]
    fraction = mean[k - 1] / (mean[k - 1] - mean[k])
    return CriticalLength(float(centre[k - 1] + fraction * (centre[k] - centre[k - 1])), "found")
