"""ResNet20 v1 without batch norm, the fort2019 residual network (docs/protocols/fort2019.md §3 E1,
[secondary]).

He et al. 2016's CIFAR ResNet as in Chollet's Keras example (``cifar10_resnet.py``, v1, depth
6n + 2 with n = 3): conv3×3(k) + ReLU stem; three stages of three blocks with k/2k/4k filters,
each block conv3×3-ReLU-conv3×3, + shortcut, ReLU; the first block of stages 2 and 3 has stride
2 and a strided 1×1 projection shortcut; global average pool; Linear(4k, classes). The paper's
ResNet20 has no BN (docs/protocols/fort2019.md §7 pitfall 2: per-example gradients are ill-defined
in train-mode BN), so
there are no normalisation layers at all and every convolution has a bias. 271,690 parameters
at k = 16, 3 channels, 10 classes (≈0.27 M).

Initialization: Glorot-uniform kernels and zero biases by default, the defaults of Chollet's
Keras model (docs/protocols/fort2019.md §2b, F-c); ``init: pytorch_default`` with
``zero_bias: false`` is the labelled variant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from trainlens.models.init import WEIGHT_SCHEMES, initialize_

BLOCKS_PER_STAGE = 3  # n in depth = 6n + 2 = 20


@dataclass(frozen=True)
class ResNet20Config:
    name: str = "resnet20"
    in_channels: int = 3
    out_dim: int = 10
    width: int = 16  # k: filters of the first stage
    # Keras' default kernel initializer (docs/protocols/fort2019.md §2b F-c)
    init: str = "glorot_uniform"
    zero_bias: bool = True  # Keras' default bias initializer

    def __post_init__(self) -> None:
        if self.in_channels < 1:
            raise ValueError(f"model.in_channels must be >= 1, got {self.in_channels}")
        if self.out_dim < 1:
            raise ValueError(f"model.out_dim must be >= 1, got {self.out_dim}")
        if self.width < 1:
            raise ValueError(f"model.width must be >= 1, got {self.width}")
        if self.init not in WEIGHT_SCHEMES:
            raise ValueError(f"model.init must be one of {sorted(WEIGHT_SCHEMES)}, "
                             f"got {self.init!r}")


class Block(nn.Module):
    """Keras v1 residual block without BN: relu(conv(relu(conv(x))) + shortcut(x))."""

    def __init__(self, in_channels: int, channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != channels:
            self.shortcut = nn.Conv2d(in_channels, channels, 1, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv2(torch.relu(self.conv1(x))) + self.shortcut(x))


class ResNet20(nn.Module):
    def __init__(self, config: ResNet20Config) -> None:
        super().__init__()
        k = config.width
        self.in_channels = config.in_channels
        self.stem = nn.Sequential(nn.Conv2d(config.in_channels, k, 3, 1, 1), nn.ReLU())
        blocks, channels = [], k
        for stage, out in enumerate((k, 2 * k, 4 * k)):
            for index in range(BLOCKS_PER_STAGE):
                blocks.append(Block(channels, out, 2 if stage > 0 and index == 0 else 1))
                channels = out
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(channels, config.out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for NCHW images, or for flat (B, C·S·S) vectors of square S×S images, whose
        side S = √(D / C) is inferred because the network itself fixes no image size."""
        if x.dim() == 2:
            side = math.isqrt(x.shape[1] // self.in_channels)
            if self.in_channels * side * side != x.shape[1]:
                raise ValueError(f"flat input of {x.shape[1]} features is not "
                                 f"{self.in_channels} square channels")
            x = x.reshape(x.shape[0], self.in_channels, side, side)
        # the global mean equals Keras' AveragePooling2D(8) on the 8×8 map of 32×32 inputs
        return self.head(self.blocks(self.stem(x)).mean(dim=(2, 3)))


def build(config: ResNet20Config, generator: torch.Generator) -> nn.Module:
    """An initialised :class:`ResNet20`, every weight drawn from ``generator``."""
    return initialize_(ResNet20(config), generator, scheme=config.init,
                       zero_bias=config.zero_bias)
