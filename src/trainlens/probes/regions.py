"""Linear regions and the Lipschitz bound far from data (loukas2021 Theorem 2 mechanics, §4.3).

For ``MLP2`` (ReLU(x + b1) → Linear → ReLU → Linear, docs/protocols/loukas2021.md §3 E2) the input
gradient is
∇_x z(x) = W2 S2(x) W1 S1(x), whose j-th entry Σ_k W2_k W1_kj s2_k(x) s1_j(x) is linear in the
pattern κ(x) = s2(x) ⊗ s1(x) ∈ {0,1}^{32·10}. Hence κ(x) = Σ_i α_i κ(x_i) over training points
implies λ(x) ≤ Σ_i |α_i| λ(x_i), and the tightest such bound is the linear program
LP*(x) = min Σ_i λ_i |α_i| subject to S_T α = κ(x), solved with SciPy's HiGHS once per unique
off-training pattern (never per grid point, pitfall P8). No representation: LP* = +∞.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from trainlens.probes.base import InputSet, Options
from trainlens.probes.lipschitz import input_gradient_norms


@dataclass(frozen=True)
class RegionOptions:
    """The experiment's ``region_analysis:`` block: a ``grid_points``² grid of the latent plane
    (the measure stage's ``latent_grid`` input set)."""

    grid_points: int = 200


def activation_patterns(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    """κ(x) = s2 ⊗ s1 per example, shape (N, width·d), for a one-hidden-layer loukas2021 MLP."""
    first = model.body[0]  # Linear(d, width); body[2] is the output layer
    with torch.no_grad():
        pre1 = x + model.shift.bias
        pre2 = first(torch.relu(pre1))
    s1, s2 = (pre1 > 0).cpu().numpy(), (pre2 > 0).cpu().numpy()
    return (s2[:, :, None] & s1[:, None, :]).reshape(len(x), -1)


def lp_bound(train_patterns: np.ndarray, train_lipschitz: np.ndarray,
             pattern: np.ndarray) -> tuple[float, int]:
    """(LP*, nonzeros of the optimal α) for one pattern; (inf, 0) when no α represents it.

    Variables [α, t] with t ≥ |α|: minimise λ·t subject to S_T α = κ, α − t ≤ 0, −α − t ≤ 0.
    """
    from scipy.optimize import linprog  # here: importing SciPy's optimizer costs every job 0.7 s

    n = len(train_lipschitz)
    identity = np.eye(n)
    result = linprog(
        c=np.concatenate([np.zeros(n), train_lipschitz]),
        A_ub=np.block([[identity, -identity], [-identity, -identity]]), b_ub=np.zeros(2 * n),
        A_eq=np.hstack([train_patterns.T.astype(float), np.zeros((train_patterns.shape[1], n))]),
        b_eq=pattern.astype(float),
        bounds=[(None, None)] * n + [(0, None)] * n, method="highs")
    if result.status == 2 or result.x is None:  # infeasible (res.x is None, pitfall P19)
        return float("inf"), 0
    if result.status != 0:
        raise RuntimeError(f"HiGHS failed on a region LP: {result.message}")
    return float(result.fun), int((np.abs(result.x[:n]) > 1e-9).sum())


def region_analysis(model: nn.Module, x_train: torch.Tensor, x_grid: torch.Tensor) -> pd.DataFrame:
    """Per grid point: region id, whether a training point shares its pattern, λ, output, and for
    off-training regions the LP bound and the nonzeros of α (docs/protocols/loukas2021.md §4.3)."""
    train_kappa = activation_patterns(model, x_train)
    train_lam = input_gradient_norms(model, x_train).detach().cpu().numpy()
    unique_train, first = np.unique(train_kappa, axis=0, return_index=True)
    train_lam = train_lam[first]  # λ is constant on a region
    grid_kappa = activation_patterns(model, x_grid)
    patterns, region = np.unique(grid_kappa, axis=0, return_inverse=True)
    in_train = (patterns[:, None, :] == unique_train[None, :, :]).all(axis=2).any(axis=1)
    bounds = np.full(len(patterns), np.nan)
    nonzeros = np.zeros(len(patterns), dtype=np.int64)
    for k in np.flatnonzero(~in_train):
        bounds[k], nonzeros[k] = lp_bound(unique_train, train_lam, patterns[k])
    with torch.no_grad():
        output = model(x_grid).cpu().numpy()
    return pd.DataFrame({
        "region": region.astype(np.int64), "in_training_region": in_train[region],
        "lipschitz": input_gradient_norms(model, x_grid).detach().cpu().numpy(),
        "output": output, "lp_bound": bounds[region], "alpha_nonzeros": nonzeros[region],
    })


def regions_probe(model: nn.Module, inputs: Mapping[str, InputSet], options: Options
                  ) -> pd.DataFrame:
    """loukas2021 E2 (docs/protocols/loukas2021.md §4.3): one ``regions`` row per point of the
    latent grid, with its latent coordinates u1, u2."""
    grid = inputs["latent_grid"]
    u = grid.extras["u"]
    return region_analysis(model, inputs["train"].x, grid.x).assign(u1=u[:, 0], u2=u[:, 1])
