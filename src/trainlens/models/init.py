"""Weight initialisation from an explicit generator (never the global RNG, loukas2021 §4.9).

``pytorch_default`` reproduces what ``nn.Linear``/``nn.Conv2d`` do on construction
(kaiming_uniform with a=√5, i.e. U(±1/√fan_in) for weights and biases) but draws from the run's
"init" stream. The other schemes are the ones dherin2022 E1 compares (LeCun-normal,
Glorot-uniform, He-normal).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn


def _fans(weight: torch.Tensor) -> tuple[int, int]:
    receptive = weight[0][0].numel() if weight.dim() > 2 else 1
    return weight.shape[1] * receptive, weight.shape[0] * receptive


def _uniform(t: torch.Tensor, bound: float, g: torch.Generator) -> None:
    t.uniform_(-bound, bound, generator=g)


def _normal(t: torch.Tensor, std: float, g: torch.Generator) -> None:
    t.normal_(0.0, std, generator=g)


def _weight_rule(scheme: str) -> Callable[[torch.Tensor, torch.Generator], None]:
    def rule(w: torch.Tensor, g: torch.Generator) -> None:
        fan_in, fan_out = _fans(w)
        WEIGHT_SCHEMES[scheme](w, fan_in, fan_out, g)

    return rule


WEIGHT_SCHEMES: dict[str, Callable[[torch.Tensor, int, int, torch.Generator], None]] = {
    "pytorch_default": lambda w, fi, fo, g: _uniform(w, 1.0 / math.sqrt(fi), g),
    "lecun_normal": lambda w, fi, fo, g: _normal(w, 1.0 / math.sqrt(fi), g),
    "glorot_uniform": lambda w, fi, fo, g: _uniform(w, math.sqrt(6.0 / (fi + fo)), g),
    "he_normal": lambda w, fi, fo, g: _normal(w, math.sqrt(2.0 / fi), g),
}


@torch.no_grad()
def initialize_(module: nn.Module, generator: torch.Generator, scheme: str = "pytorch_default",
                zero_bias: bool = False) -> nn.Module:
    """Re-initialise every Linear/Conv2d of ``module`` in construction order from ``generator``.

    Biases follow PyTorch's default U(±1/√fan_in) unless ``zero_bias``. Modules with their own
    ``reset_parameters(generator)`` (the loukas2021 bias shift) are initialised by it.
    """
    if scheme not in WEIGHT_SCHEMES:
        raise ValueError(f"model.init must be one of {sorted(WEIGHT_SCHEMES)}, got {scheme!r}")
    for sub in module.modules():
        if isinstance(sub, nn.Linear | nn.Conv2d):
            fan_in, fan_out = _fans(sub.weight)
            WEIGHT_SCHEMES[scheme](sub.weight, fan_in, fan_out, generator)
            if sub.bias is not None:
                if zero_bias:
                    sub.bias.zero_()
                else:
                    _uniform(sub.bias, 1.0 / math.sqrt(fan_in), generator)
        elif hasattr(sub, "reset_parameters_from") and sub is not module:
            sub.reset_parameters_from(generator)
    return module
