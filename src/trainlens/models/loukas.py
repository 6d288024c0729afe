"""The loukas2021 architectures (docs/protocols/loukas2021.md §3): an MLP and a CNN whose first
layer is a frozen identity.

The official code uses ``Linear(d, d)`` with its weight fixed to I and only its bias b1 trained,
followed by ReLU. Because f depends on x and b1 only through x + b1, ∇_{b1} f = ∇_x f, which is
what makes the normalised bias step equal the local Lipschitz constant (§4.1). We implement
the layer directly as ReLU(x + b1): mathematically identical, without a d×d frozen product (the
CIFAR model would otherwise carry a 3072×3072 identity in every checkpoint).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from trainlens.models.init import initialize_

FIRST_BIAS = "shift.bias"  # the parameter b1 whose trajectory the paper studies


def _require_positive(config: object, keys: tuple[str, ...]) -> None:
    for key in keys:
        if getattr(config, key) < 1:
            raise ValueError(f"model.{key} must be >= 1, got {getattr(config, key)}")


class BiasShift(nn.Module):
    """x ↦ ReLU(x + b1), i.e. ReLU(I·x + b1) with the identity weight frozen."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(dim))

    @torch.no_grad()
    def reset_parameters_from(self, generator: torch.Generator) -> None:
        """PyTorch's ``Linear(d, d)`` bias init, U(±1/√d), from ``generator``."""
        bound = 1.0 / math.sqrt(self.bias.numel())
        self.bias.uniform_(-bound, bound, generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.bias)


@dataclass(frozen=True)
class LoukasMLPConfig:
    """E1a ``MLP(10, 32)``: hidden_layers=3; E2 ``MLP2``: 1; E3 ``MLP_MNIST``: width 512, 1."""

    name: str = "loukas_mlp"
    input_dim: int = 10
    width: int = 32
    hidden_layers: int = 3

    def __post_init__(self) -> None:
        _require_positive(self, ("input_dim", "width", "hidden_layers"))


class LoukasMLP(nn.Module):
    """[I frozen, b1] → ReLU → (Linear → ReLU) × hidden_layers → Linear(width, 1)."""

    def __init__(self, config: LoukasMLPConfig) -> None:
        super().__init__()
        self.shift = BiasShift(config.input_dim)
        layers: list[nn.Module] = []
        fan_in = config.input_dim
        for _ in range(config.hidden_layers):
            layers += [nn.Linear(fan_in, config.width), nn.ReLU()]
            fan_in = config.width
        layers.append(nn.Linear(fan_in, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scalar output z per example, shape (batch,): no final sigmoid (the loss applies it)."""
        return self.body(self.shift(x)).squeeze(-1)

    def forward_stacked(self, params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """``forward`` of M members at once: ``params`` stacked along a leading member axis
        (M, ...), inputs (M, B, d) → outputs (M, B). Batched matrix products in place of
        ``vmap(functional_call)``, which the eager ensemble step at batch size 1 spends most of
        its time dispatching (2.6x faster a step at E1a's size); it reads only the layer
        structure of ``self``, so a parameter-free (meta) copy serves."""
        h = torch.relu(x + params[FIRST_BIAS].unsqueeze(-2))
        for index, layer in enumerate(self.body):
            if isinstance(layer, nn.Linear):
                weight, bias = params[f"body.{index}.weight"], params[f"body.{index}.bias"]
                h = torch.baddbmm(bias.unsqueeze(-2), h, weight.transpose(-1, -2))
            else:
                h = layer(h)
        return h.squeeze(-1)


@dataclass(frozen=True)
class LoukasCNNConfig:
    """E1b CNN (3×32×32) and E3 ``CNN_MNIST`` (1×28×28): conv 5, max-pool 3/3, twice."""

    name: str = "loukas_cnn"
    in_channels: int = 3
    image_size: int = 32
    conv_channels: tuple[int, int] = (96, 384)
    kernel_size: int = 5
    pool: int = 3
    hidden: int = 384

    def __post_init__(self) -> None:
        object.__setattr__(self, "conv_channels", tuple(self.conv_channels))
        _require_positive(self, ("in_channels", "image_size", "kernel_size", "pool", "hidden"))
        if len(self.conv_channels) != 2 or min(self.conv_channels) < 1:
            raise ValueError(f"model.conv_channels must be two positive ints, got "
                             f"{self.conv_channels}")
        self.spatial_out()

    def spatial_out(self) -> int:
        size = self.image_size
        for _ in self.conv_channels:
            size = (size - self.kernel_size + 1) // self.pool
        if size < 1:
            raise ValueError(f"model.image_size={self.image_size} is too small for two conv "
                             f"{self.kernel_size} + max-pool {self.pool} stages")
        return size


class LoukasCNN(nn.Module):
    """Flatten → [I frozen, b1] → ReLU → Unflatten → (Conv → ReLU → MaxPool) × 2 → MLP head."""

    def __init__(self, config: LoukasCNNConfig) -> None:
        super().__init__()
        c, s = config.in_channels, config.image_size
        self.shift = BiasShift(c * s * s)
        c1, c2 = config.conv_channels
        k, pool = config.kernel_size, config.pool
        out = config.spatial_out()
        self.features = nn.Sequential(
            nn.Unflatten(1, (c, s, s)),
            nn.Conv2d(c, c1, k), nn.ReLU(), nn.MaxPool2d(pool, pool),
            nn.Conv2d(c1, c2, k), nn.ReLU(), nn.MaxPool2d(pool, pool),
            nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Linear(c2 * out * out, config.hidden), nn.ReLU(),
                                  nn.Linear(config.hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scalar logit per example, shape (batch,); the sigmoid of the paper is in the loss."""
        return self.head(self.features(self.shift(x.flatten(1)))).squeeze(-1)


def build_mlp(config: LoukasMLPConfig, generator: torch.Generator) -> nn.Module:
    return initialize_(LoukasMLP(config), generator)


def build_cnn(config: LoukasCNNConfig, generator: torch.Generator) -> nn.Module:
    return initialize_(LoukasCNN(config), generator)
