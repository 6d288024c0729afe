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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

CENSORING = ("found", "above", "below", "no_decay")


def input_distances(x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    """1 − cos(X1, X2) for all pairs (float64), on the flattened inputs."""
    a = x1.flatten(1).to(torch.float64)
    b = x2.flatten(1).to(torch.float64)
    a = a / a.norm(dim=1, keepdim=True)
    b = b / b.norm(dim=1, keepdim=True)
    return (1.0 - a @ b.T).clamp(0.0, 2.0)


@dataclass(frozen=True)
class DistanceCurve:
    """Binned stiffness: per bin the mean distance (centre), mean S, its SEM and pair count."""

    centre: np.ndarray
    mean: np.ndarray
    sem: np.ndarray
    count: np.ndarray


def pair_values(matrix: torch.Tensor, distances: torch.Tensor, labels1: torch.Tensor,
                labels2: torch.Tensor, same_set: bool, within_class: bool = True
                ) -> tuple[np.ndarray, np.ndarray]:
    """(distance, S) of the pairs that count: i < j for a set with itself (each pair once, no
    self-pairs), all pairs otherwise; only equal labels when ``within_class``; NaN S dropped."""
    keep = torch.ones_like(matrix, dtype=torch.bool)
    if same_set:
        keep = torch.triu(keep, diagonal=1)
    if within_class:
        keep &= labels1.unsqueeze(1) == labels2.unsqueeze(0)
    keep &= ~torch.isnan(matrix)
    return distances[keep].cpu().numpy(), matrix[keep].to(torch.float64).cpu().numpy()


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
    """ξ = −a/b of the count-weighted least-squares line through the bin means (spec §4 step 4)."""
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
