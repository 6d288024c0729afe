"""Trajectory statistics of the first-layer bias b1 (loukas2021 §4.1, §4.5-4.7).

Pure, vectorised functions over a leading member axis M. The training hook
(:class:`trainlens.training.hooks.BiasTrajectoryHook`) calls them once per step; the table-level
statistics that claims and figures read are in :mod:`trainlens.summaries.trajectory`.

Key identity (spec §4.1, invariant U1): with W1 = I, plain SGD and batch size 1,
b_t − b_{t−1} = −η_t·ℓ'_t·∇_x z(x_t; θ_{t−1}), hence the normalised bias step
τ_t = ‖b_t − b_{t−1}‖ / (η_t·|ℓ'_t|) equals λ(x_t; θ_{t−1}), the Lipschitz constant of the linear
region that holds the visited sample. For a batch of B, τ_t = ‖Δb_t‖ / (η_t·mean_i |ℓ'_i|) ≤
max_i λ(x_i) (triangle inequality; the paper's B > 1 statement is not known).
"""

from __future__ import annotations

import torch


def normalized_bias_step(bias_step_norm: torch.Tensor, lr: torch.Tensor,
                         dloss_dz: torch.Tensor) -> torch.Tensor:
    """τ_t = ‖Δb_t‖ / (η_t · mean_i |ℓ'_i|) per member (spec §4.1).

    ``bias_step_norm`` (..., M), ``lr`` (M,), ``dloss_dz`` (..., M, B): leading axes are steps.
    Steps with mean |ℓ'| = 0 (an exactly fitted sample: no step, no information) give NaN, which
    the epoch means skip.
    """
    scale = lr * dloss_dz.abs().mean(dim=-1)
    return torch.where(scale > 0, bias_step_norm / scale, torch.nan)


def official_cnn_epsilon(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """ε = |1 − p − y| of the official CNN code (pitfall P13), from the probability ``p`` of class
    1 (M, B): the probability given to the labelled class, not the BCE/2 gradient factor
    |p − y|/2. Mean over the batch (the last axis), shape (..., M)."""
    return (1 - p - y.to(p.dtype)).abs().mean(dim=-1)
