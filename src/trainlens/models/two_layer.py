"""The single-hidden-layer network of nakazato2024 (docs/protocols/nakazato2024.md §3 "Common
setup", reconstructed).

f(x; θ) = m^{-1/2} Σ_k a_k φ(w_k·x + b_k): scalar output in the NTK scaling, θ = (a, W, b) with
a_k, W_kj ~ N(0, 1) and b_k ~ N(0, 0.1²) at init. The functions here work on parameters stacked
along a leading member axis E (a dict of tensors a: (E, m), W: (E, m, d), b: (E, m)), so that
an ensemble of runs trains and is probed in closed form without autograd: the protocol
(docs/protocols/nakazato2024.md §4.7) notes
that plain per-step PyTorch costs 5-10x a closed-form backend for a network this small.
``TwoLayerNet`` is the same network as an ``nn.Module``, which the tests use to check every
closed form against autograd.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

Params = dict[str, torch.Tensor]  # a: (E, m), W: (E, m, d), b: (E, m)


def _relu(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # φ'(0) = 0 for ReLU, as the protocol (docs/protocols/nakazato2024.md §4.2) fixes for both the
    # closed form and autograd
    return torch.relu(z), (z > 0).to(z.dtype)


def _tanh(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    h = torch.tanh(z)
    return h, 1 - h * h


def _sigmoid(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    h = torch.sigmoid(z)
    return h, h * (1 - h)


def _linear(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return z, torch.ones_like(z)


# activation name -> z -> (φ(z), φ'(z))
ACTIVATIONS: dict[str, Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]] = {
    "relu": _relu, "tanh": _tanh, "sigmoid": _sigmoid, "linear": _linear,
}


@dataclass(frozen=True)
class TwoLayerConfig:
    """nakazato2024 §3: width m, input dimension d, activation φ and the init scales."""

    name: str = "two_layer"
    input_dim: int = 8
    width: int = 128
    activation: str = "relu"
    a_std: float = 1.0
    w_std: float = 1.0
    b_std: float = 0.1

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"model.activation must be one of {sorted(ACTIVATIONS)}, "
                             f"got {self.activation!r}")
        if self.input_dim < 1 or self.width < 1:
            raise ValueError(f"model.input_dim and model.width must be >= 1, got "
                             f"{self.input_dim}, {self.width}")


def init_params(config: TwoLayerConfig, generator: torch.Generator,
                dtype: torch.dtype = torch.float64) -> Params:
    """One member's initial θ (leading axis of size 1), drawn on the CPU from ``generator``."""
    m, d = config.width, config.input_dim
    draw = lambda *shape: torch.randn(*shape, generator=generator, dtype=torch.float64)  # noqa: E731
    params = {"a": config.a_std * draw(1, m), "W": config.w_std * draw(1, m, d),
              "b": config.b_std * draw(1, m)}
    return {k: v.to(dtype) for k, v in params.items()}


def hidden(params: Params, x: torch.Tensor, activation: str
           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pre-activations z = Wx + b, φ(z) and φ'(z), each (E, N, m), for inputs x of (E, N, d)."""
    z = torch.baddbmm(params["b"].unsqueeze(1), x, params["W"].transpose(1, 2))
    h, h_prime = ACTIVATIONS[activation](z)
    return z, h, h_prime


def output(params: Params, h: torch.Tensor) -> torch.Tensor:
    """f = m^{-1/2} Σ_k a_k φ(z_k) from the hidden activations φ(z) of ``hidden``: (E, N)."""
    return torch.bmm(h, params["a"].unsqueeze(2)).squeeze(2) / math.sqrt(h.shape[-1])


def forward(params: Params, x: torch.Tensor, activation: str) -> torch.Tensor:
    """f(x; θ) for every member: (E, N)."""
    _, h, _ = hidden(params, x, activation)
    return output(params, h)


def weighted_gradient(params: Params, x: torch.Tensor, weights: torch.Tensor, activation: str,
                      h: torch.Tensor, h_prime: torch.Tensor) -> Params:
    """Σ_i weights_i ∇_θ f(x_i) per member, in closed form from the forward pass's φ, φ'.

    ∂f/∂a_k = φ(z_k)/√m, ∂f/∂b_k = a_k φ'(z_k)/√m, ∂f/∂W_k = a_k φ'(z_k) x/√m. With
    weights_i = ℓ'_i / |B| on the minibatch (0 elsewhere) this is the SGD gradient of
    docs/protocols/nakazato2024.md §3.
    """
    scale = 1.0 / math.sqrt(h.shape[-1])
    grad_a = torch.bmm(weights.unsqueeze(1), h).squeeze(1) * scale
    dz = weights.unsqueeze(2) * h_prime * (params["a"] * scale).unsqueeze(1)  # (E, N, m)
    return {"a": grad_a, "W": torch.bmm(dz.transpose(1, 2), x), "b": dz.sum(1)}


def flatten(params: Params) -> torch.Tensor:
    """θ as one vector per member: (E, P) with P = m(d + 2)."""
    return torch.cat([params["a"], params["W"].flatten(1), params["b"]], dim=1)


class TwoLayerNet(nn.Module):
    """The same network as an ``nn.Module`` (one member): for autograd checks and other probes."""

    def __init__(self, config: TwoLayerConfig, params: Params | None = None) -> None:
        super().__init__()
        self.activation = config.activation
        params = params or init_params(config, torch.Generator().manual_seed(0))
        self.a = nn.Parameter(params["a"][0].clone())
        self.W = nn.Parameter(params["W"][0].clone())
        self.b = nn.Parameter(params["b"][0].clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = ACTIVATIONS[self.activation](x @ self.W.T + self.b)
        return h @ self.a / math.sqrt(self.a.shape[0])


def build(config: TwoLayerConfig, generator: torch.Generator) -> TwoLayerNet:
    """Registry entry: the initialised network as a module."""
    return TwoLayerNet(config, init_params(config, generator))
