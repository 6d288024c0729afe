"""The small CNN of fort2019 (docs/protocols/fort2019.md §3 E1, [secondary]/[inferred]).

Three 3×3 convolutions (16/32/32 channels, 'same' padding) with ReLU, 2×2 max-pooling and one
final Linear. "Followed by 2×2 max-pooling" has two readings, so ``pool`` switches between them:
``every`` pools after each convolution (16,938 parameters on MNIST, 14,378 on 8×8 digits),
``final`` pools once after the last one (76,778 on MNIST). No normalisation layers: stiffness is
measured on per-example gradients, which batch statistics would couple (docs/protocols/fort2019.md
§7 pitfall 2).

Initialization: Glorot-uniform kernels and zero biases by default, the defaults of the Keras
layers the authors' models were built with (docs/protocols/fort2019.md §2b, F-c);
``init: pytorch_default`` with ``zero_bias: false`` is the labelled variant (PyTorch's own
U(±1/√fan_in) for weights and biases).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from trainlens.models.init import WEIGHT_SCHEMES, initialize_

POOLS = ("every", "final")


@dataclass(frozen=True)
class FortCNNConfig:
    name: str = "fort_cnn"
    in_channels: int = 1
    image_size: int = 28  # square inputs; flat vectors are reshaped to this side
    channels: tuple[int, ...] = (16, 32, 32)
    out_dim: int = 10
    pool: str = "every"
    # Keras' default kernel initializer (docs/protocols/fort2019.md §2b F-c)
    init: str = "glorot_uniform"
    zero_bias: bool = True  # Keras' default bias initializer

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(self.channels))
        if not self.channels or any(c < 1 for c in self.channels):
            raise ValueError(f"model.channels must be non-empty and all >= 1, got {self.channels}")
        if self.in_channels < 1:
            raise ValueError(f"model.in_channels must be >= 1, got {self.in_channels}")
        if self.out_dim < 1:
            raise ValueError(f"model.out_dim must be >= 1, got {self.out_dim}")
        if self.pool not in POOLS:
            raise ValueError(f"model.pool must be one of {list(POOLS)}, got {self.pool!r}")
        if self.image_size < 1 or pooled_size(self.image_size, self.pool, len(self.channels)) < 1:
            raise ValueError(f"model.image_size {self.image_size} is too small for "
                             f"{len(self.channels)} convolutions with pool {self.pool!r}")
        if self.init not in WEIGHT_SCHEMES:
            raise ValueError(f"model.init must be one of {sorted(WEIGHT_SCHEMES)}, "
                             f"got {self.init!r}")


def pooled_size(image_size: int, pool: str, n_convs: int) -> int:
    """Side of the final feature map: 'same' convolutions keep the size, each floor-mode 2×2
    pool halves it."""
    return image_size >> (n_convs if pool == "every" else 1)


class FortCNN(nn.Module):
    def __init__(self, config: FortCNNConfig) -> None:
        super().__init__()
        self.in_channels, self.image_size = config.in_channels, config.image_size
        layers: list[nn.Module] = []
        fan_in = config.in_channels
        for index, width in enumerate(config.channels):
            layers += [nn.Conv2d(fan_in, width, 3, 1, 1), nn.ReLU()]
            if config.pool == "every" or index == len(config.channels) - 1:
                layers.append(nn.MaxPool2d(2))
            fan_in = width
        self.features = nn.Sequential(*layers)
        side = pooled_size(config.image_size, config.pool, len(config.channels))
        self.head = nn.Linear(fan_in * side * side, config.out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for NCHW images or flat (B, C·H·W) vectors, the layout flattened datasets
        (and the fort2019 preprocessing, which normalises whole input vectors) hand over."""
        if x.dim() == 2:
            x = x.reshape(x.shape[0], self.in_channels, self.image_size, self.image_size)
        return self.head(self.features(x).flatten(1))


def build(config: FortCNNConfig, generator: torch.Generator) -> nn.Module:
    """An initialised :class:`FortCNN`, every weight drawn from ``generator``."""
    return initialize_(FortCNN(config), generator, scheme=config.init,
                       zero_bias=config.zero_bias)
