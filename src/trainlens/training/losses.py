"""Per-example losses and their derivative with respect to the model output z.

loukas2021 §4 notation: ℓ'_t = ∂ℓ/∂z at the visited sample, which normalises the bias step
(§4.1). For MSE/2 it is f − y; for sigmoid + BCE/2 it is (σ(z) − y)/2. The official CNN divides by
ε = |1 − p − y| instead (pitfall P13), kept as a labelled variant in the trajectory hook.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Loss:
    """``value(z, y)`` per example, over any leading axes (z (..., K) or (...) for scalar
    outputs, y (...)): members and examples alike, so an ensemble needs no ``vmap``;
    ``dz(z, y)`` = ∂value/∂z for scalar outputs (None otherwise);
    ``error(z, y)`` the per-example error reported next to the loss (spec §4.8);
    ``probability(z)`` the model's probability of class 1 for scalar outputs: σ(z) for BCE, and
    the output itself for MSE on 0/1 targets (loukas2021 E1c), as the official ε (P13) reads it."""

    value: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    dz: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None
    error: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    classifier: bool
    probability: Callable[[torch.Tensor], torch.Tensor] | None = None


def _bce_half(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # ½·BCE(σ(z), y) from logits: numerically stable, unlike log(σ(z)) on the sigmoid output.
    return 0.5 * F.binary_cross_entropy_with_logits(z, y.to(z.dtype), reduction="none")


def _mse_onehot_half(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # dherin2022 E7-E9: ½‖z − onehot(y)‖² per example, the mse_half convention on K outputs. It
    # reproduces the spec's calibration (full-batch GD diverges at lr 1.0, not at 0.5); torch's
    # MSELoss (the mean over K) does not. A comparison, not F.one_hot, so that it runs in vmap.
    classes = torch.arange(z.shape[-1], device=z.device)
    return 0.5 * (z - (y.unsqueeze(-1) == classes).to(z.dtype)).pow(2).sum(-1)


def _cross_entropy(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # any leading axes (members, examples): F.cross_entropy would read axis 1 as the classes
    flat = F.cross_entropy(z.reshape(-1, z.shape[-1]), y.reshape(-1), reduction="none")
    return flat.view(y.shape)


LOSSES: dict[str, Loss] = {
    "mse_half": Loss(
        value=lambda z, y: 0.5 * (z - y) ** 2,
        dz=lambda z, y: z - y,
        error=lambda z, y: (z - y).abs(),
        classifier=False,
        probability=lambda z: z,
    ),
    "bce_half": Loss(
        value=_bce_half,
        dz=lambda z, y: 0.5 * (torch.sigmoid(z) - y.to(z.dtype)),
        error=lambda z, y: (torch.sigmoid(z) - y.to(z.dtype)).abs(),
        classifier=True,
        probability=torch.sigmoid,
    ),
    "mse_onehot_half": Loss(
        value=_mse_onehot_half,
        dz=None,
        error=lambda z, y: (z.argmax(-1) != y).to(z.dtype),
        classifier=True,
    ),
    "cross_entropy": Loss(
        value=_cross_entropy,
        dz=None,
        error=lambda z, y: (z.argmax(-1) != y).to(z.dtype),
        classifier=True,
    ),
}
