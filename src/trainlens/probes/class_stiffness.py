"""Class structure of stiffness (fort2019 §4 "Class stiffness matrix", §6 C1-C2, C10-C11).

C(ca, cb) = E_{X1 ∈ ca, X2 ∈ cb, X1 ≠ X2}[S(X1, X2)], rows by the labels of set 1 and columns by
those of set 2 (the tv matrix is rectangular: docs/protocols/fort2019.md §7 pitfall 4 lists the
bugs of using one set's
labels on both axes). A class without pairs gives NaN, never 0 (U6). Summaries:

- class-balanced (the claims'): S_within = mean_c C(c, c), S_between = mean_{c1≠c2} C(c1, c2)
  over the classes present;
- pair-pooled: the mean over all pairs with equal (resp. different) labels.

``input_distances`` and ``pair_values`` give the (distance, S) pairs that
:mod:`trainlens.stats.critical_length` bins to find ξ: distance(X1, X2) = 1 − cos(X1, X2)
on the preprocessed inputs the network sees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def _pair_mask(n1: int, n2: int, exclude_self: bool, device: torch.device) -> torch.Tensor:
    """1 for the pairs that count: all of them, minus the diagonal for a set with itself."""
    mask = torch.ones(n1, n2, dtype=torch.float64, device=device)
    if exclude_self:
        if n1 != n2:
            raise ValueError(f"exclude_self needs a square matrix, got {n1} x {n2}")
        mask.fill_diagonal_(0.0)
    return mask


def _one_hot(labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(labels.long(), n_classes).to(torch.float64)


def class_stiffness(matrix: torch.Tensor, labels1: torch.Tensor, labels2: torch.Tensor,
                    n_classes: int, exclude_self: bool) -> torch.Tensor:
    """C (n_classes × n_classes, float64): the mean of ``matrix`` over the pairs of each class
    pair, NaN where a class pair has no pairs (or only NaN entries: zero gradients)."""
    valid = ~torch.isnan(matrix)
    mask = _pair_mask(*matrix.shape, exclude_self, matrix.device) * valid
    values = torch.where(valid, matrix.to(torch.float64), 0.0)
    o1, o2 = _one_hot(labels1, n_classes), _one_hot(labels2, n_classes)
    sums = o1.T @ (values * mask) @ o2
    counts = o1.T @ mask @ o2
    return torch.where(counts > 0, sums / counts.clamp(min=1), float("nan"))


@dataclass(frozen=True)
class WithinBetween:
    within: float
    between: float


def balanced_within_between(classes: torch.Tensor) -> WithinBetween:
    """Class-balanced S_within (mean diagonal) and S_between (mean off-diagonal) of C, over the
    entries that are defined (fort2019 §4)."""
    diagonal = torch.eye(len(classes), dtype=torch.bool, device=classes.device)
    return WithinBetween(float(torch.nanmean(classes[diagonal])),
                         float(torch.nanmean(classes[~diagonal])))


def pooled_within_between(matrix: torch.Tensor, labels1: torch.Tensor, labels2: torch.Tensor,
                          exclude_self: bool) -> WithinBetween:
    """Pair-pooled means: over all pairs with equal labels, and with different labels."""
    valid = ~torch.isnan(matrix)
    mask = (_pair_mask(*matrix.shape, exclude_self, matrix.device) > 0) & valid
    same = labels1.unsqueeze(1) == labels2.unsqueeze(0)
    values = matrix.to(torch.float64)
    return WithinBetween(float(values[mask & same].mean()), float(values[mask & ~same].mean()))


def diagonal_dominance(classes: torch.Tensor) -> int:
    """How many classes have C(c, c) > max_{c'≠c} C(c, c') (fort2019 C2), row-wise; a class
    with an undefined diagonal does not count."""
    off = classes.clone()
    off.fill_diagonal_(float("-inf"))
    best_other = torch.nan_to_num(off, nan=float("-inf")).max(dim=1).values
    return int((classes.diagonal() > best_other).sum())


def group_contrast(classes: torch.Tensor, groups: np.ndarray) -> float:
    """Δ = mean C over distinct-class pairs in the same group − mean over pairs in different
    groups (fort2019 C10: groups = super-classes; C11: living vs non-living)."""
    c = classes.detach().cpu().numpy()
    same = groups[:, None] == groups[None, :]
    distinct = ~np.eye(len(groups), dtype=bool)
    defined = ~np.isnan(c)
    return float(c[same & distinct & defined].mean() - c[~same & defined].mean())


def group_permutation_p(classes: torch.Tensor, groups: np.ndarray, n_permutations: int,
                        seed: int) -> float:
    """One-sided permutation p of ``group_contrast``: the share of random equal-size partitions
    (the group labels shuffled over classes) whose Δ is at least the observed one, with the
    observed partition counted ((1 + k)/(1 + n))."""
    observed = group_contrast(classes, groups)
    rng = np.random.default_rng(seed)
    exceed = sum(group_contrast(classes, rng.permutation(groups)) >= observed
                 for _ in range(n_permutations))
    return (1 + exceed) / (1 + n_permutations)


def input_distances(x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    """1 − cos(X1, X2) for all pairs (float64), on the flattened inputs."""
    a = x1.flatten(1).to(torch.float64)
    b = x2.flatten(1).to(torch.float64)
    a = a / a.norm(dim=1, keepdim=True)
    b = b / b.norm(dim=1, keepdim=True)
    return (1.0 - a @ b.T).clamp(0.0, 2.0)


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
