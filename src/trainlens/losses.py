"""Per-example losses and their derivative with respect to the model output z.

loukas2021 (docs/protocols/loukas2021.md §4, §2b P-a, P-b): ℓ'_t = ∂ℓ/∂z at the visited sample
(z the logit). The paper normalises the bias step by ε = |∂ℓ/∂f|, the derivative with respect
to the output f the loss reads: f − y for MSE/2 (f = z), and ε = 1/|1 − y − f| for BCE on the
sigmoid output f = σ(z), so ‖Δb₁‖/(η·ε) = ‖∇ₓσ(z)‖ (``output_epsilon``). The paper's BCE is not
halved (``bce``); the official code's BCE/2 (``bce_half``) is a recorded deviation. The official
CNN divides by |1 − p − y| instead (pitfall P13), kept as a labelled variant in the trajectory hook.

nakazato2024 (docs/protocols/nakazato2024.md §3) trains its two-layer network on ±1 labels with
the logistic loss log(1 + e^{-yf}) (``logistic``) or MSE (f − y)²/2 (``mse``, the same loss as
``mse_half``); its closed-form step and its probes read ``value`` and ``dz`` from here too.
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
    ``error(z, y)`` the per-example error reported next to the loss (loukas2021 §4.8);
    ``probability(z)`` the model's probability of class 1 for scalar outputs: σ(z) for BCE, and
    the output itself for MSE on 0/1 targets (loukas2021 E1c), as the official ε (P13) reads it;
    ``output_epsilon(z, y)`` = |∂value/∂f| with f the output the loss reads (σ(z) for the BCE
    losses, z for MSE): the paper's ε that normalises the bias step (loukas2021 §2b P-a)."""

    value: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    dz: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None
    error: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    classifier: bool
    probability: Callable[[torch.Tensor], torch.Tensor] | None = None
    output_epsilon: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None


def _bce(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # −y log σ(z) − (1 − y) log(1 − σ(z)) from logits (stable); the paper's BCE, not halved (P-b)
    return F.binary_cross_entropy_with_logits(z, y.to(z.dtype), reduction="none")


def _bce_epsilon(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The paper's ε = 1/|1 − y − σ(z)| = |∂BCE/∂f| at f = σ(z) (loukas2021 §2b P-a).
    |1 − y − σ(z)| is the probability of the labelled class, σ((2y − 1)·z): written so, it keeps
    its precision where σ(z) rounds to 1."""
    return 1.0 / torch.sigmoid((2 * y.to(z.dtype) - 1) * z)


def _bce_half(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # ½·BCE(σ(z), y), the official loukas2021 code's loss (a recorded deviation, §2b P-b)
    return 0.5 * _bce(z, y)


def _mse_onehot_half(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # dherin2022 E7-E9: ½‖z − onehot(y)‖² per example, the mse_half convention on K outputs. It
    # reproduces the protocol's calibration (full-batch GD diverges at lr 1.0, not at 0.5); torch's
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
        output_epsilon=lambda z, y: (z - y).abs(),
    ),
    "bce": Loss(
        value=_bce,
        dz=lambda z, y: torch.sigmoid(z) - y.to(z.dtype),
        error=lambda z, y: (torch.sigmoid(z) - y.to(z.dtype)).abs(),
        classifier=True,
        probability=torch.sigmoid,
        output_epsilon=_bce_epsilon,
    ),
    "bce_half": Loss(
        value=_bce_half,
        dz=lambda z, y: 0.5 * (torch.sigmoid(z) - y.to(z.dtype)),
        error=lambda z, y: (torch.sigmoid(z) - y.to(z.dtype)).abs(),
        classifier=True,
        probability=torch.sigmoid,
        output_epsilon=lambda z, y: 0.5 * _bce_epsilon(z, y),
    ),
    "logistic": Loss(
        value=lambda z, y: F.softplus(-y * z),
        dz=lambda z, y: -y * torch.sigmoid(-y * z),
        error=lambda z, y: (z * y <= 0).to(z.dtype),
        classifier=True,
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
# nakazato2024's name for the same loss (its experiments and runs tables say ``mse``)
LOSSES["mse"] = LOSSES["mse_half"]
# the losses of the two-layer network (docs/protocols/nakazato2024.md §3): its closed-form step
# and probes take these only
CLOSED_FORM_LOSSES = ("logistic", "mse")
