"""A generic fully connected network: the workhorse of dherin2022, fort2019 and nakazato2024."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from trainlens.models.init import WEIGHT_SCHEMES, initialize_

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "linear": nn.Identity,
}


@dataclass(frozen=True)
class MLPConfig:
    """input_dim → widths[0] → … → widths[-1] → out_dim, one activation after each hidden layer.
    ``depth`` > 0 makes it ``depth`` hidden layers of width widths[0] (a depth sweep, dherin2022
    E1)."""

    name: str = "mlp"
    input_dim: int = 64
    widths: tuple[int, ...] = (128, 128)
    out_dim: int = 10
    activation: str = "relu"
    init: str = "pytorch_default"
    zero_bias: bool = False
    depth: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(self.widths))
        if self.depth < 0 or (self.depth > 0 and not self.widths):
            raise ValueError(f"model.depth must be >= 0 (and needs widths[0]), got {self.depth}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"model.activation must be one of {sorted(ACTIVATIONS)}, "
                             f"got {self.activation!r}")
        if self.init not in WEIGHT_SCHEMES:
            raise ValueError(f"model.init must be one of {sorted(WEIGHT_SCHEMES)}, "
                             f"got {self.init!r}")


class MLP(nn.Module):
    def __init__(self, config: MLPConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        fan_in = config.input_dim
        widths = (config.widths[0],) * config.depth if config.depth else config.widths
        for width in widths:
            layers += [nn.Linear(fan_in, width), ACTIVATIONS[config.activation]()]
            fan_in = width
        layers.append(nn.Linear(fan_in, config.out_dim))
        self.body = nn.Sequential(*layers)
        self.scalar_output = config.out_dim == 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x.flatten(1))
        return out.squeeze(-1) if self.scalar_output else out

    def forward_stacked(self, params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """``forward`` of M members at once: ``params`` stacked along a leading member axis,
        inputs (M, B, ...) → outputs (M, B[, K]). Batched matrix products in place of
        ``vmap(functional_call)``, with the features first (activations (M, width, B)): then
        every weight's gradient W_l ← δ_l h_{l-1}ᵀ comes out of the backward pass contiguous,
        where through ``vmap`` it came out transposed in memory and every later pass over it
        (the optimizer's) was slow; a dherin2022 E9 step of 2 x 64-2048-10 takes half the
        time. It reads only the layer structure of ``self``, so a parameter-free (meta) copy
        serves."""
        h = x.flatten(2).transpose(1, 2)
        for index, layer in enumerate(self.body):
            if isinstance(layer, nn.Linear):
                weight, bias = params[f"body.{index}.weight"], params[f"body.{index}.bias"]
                h = torch.baddbmm(bias.unsqueeze(-1), weight, h)
            else:
                h = layer(h)  # the activations act elementwise
        out = h.transpose(1, 2)
        return out.squeeze(-1) if self.scalar_output else out


def build(config: MLPConfig, generator: torch.Generator) -> nn.Module:
    return initialize_(MLP(config), generator, scheme=config.init, zero_bias=config.zero_bias)


# φ(0) = 0: a unit with zero weights in and out and zero bias outputs 0 and gets zero gradient
ZERO_PRESERVING = ("relu", "tanh", "linear")


@torch.no_grad()
def zero_pad(model: MLP, config: MLPConfig, widths: tuple[int, ...]) -> MLP:
    """``model`` inside a wider MLP: hidden layer l grows to ``widths[l]`` with units whose
    incoming weights, bias and outgoing weights are 0. For an activation with φ(0) = 0 such a
    unit outputs 0 and its parameters get zero gradient, so they stay 0 under SGD, Adam and
    weight decay: the function, its input Jacobian and its training are those of ``model``.
    This lets members of different widths train in one ensemble (dherin2022 E9)."""
    if config.activation not in ZERO_PRESERVING:
        raise ValueError(f"zero padding needs an activation with φ(0) = 0 "
                         f"({', '.join(ZERO_PRESERVING)}), not {config.activation!r}")
    hidden = (config.widths[0],) * config.depth if config.depth else config.widths
    if len(widths) != len(hidden) or any(w < h for w, h in zip(widths, hidden)):
        raise ValueError(f"cannot pad hidden widths {hidden} to {widths}")
    wide = MLP(MLPConfig(**{**config.__dict__, "widths": tuple(widths), "depth": 0}))
    linears = [m for m in model.body if isinstance(m, nn.Linear)]
    for source, target in zip(linears, [m for m in wide.body if isinstance(m, nn.Linear)]):
        target.weight.zero_()
        target.weight[:source.out_features, :source.in_features] = source.weight
        target.bias.zero_()
        target.bias[:source.out_features] = source.bias
    return wide.to(dtype=linears[0].weight.dtype, device=linears[0].weight.device)
