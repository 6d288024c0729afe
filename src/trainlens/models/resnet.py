"""ResNet-18 with the CIFAR stem, the paper-scale model of dherin2022 (docs/protocols/dherin2022.md
§3 base config).

conv3×3(k) + norm + ReLU, no max-pool; four stages of two BasicBlocks with k/2k/4k/8k channels
(stride 2 at stages 2-4, 1×1 projection shortcuts where the shape changes); global average pool;
Linear(8k, classes). k = 64 is the standard network; E9 sweeps k (Nakkiran-style widths,
[inferred]). ``norm: batch`` uses BatchNorm (measure GC in eval mode, docs/protocols/dherin2022.md
§7 pitfall 3);
``norm: none`` drops it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from trainlens.models.init import WEIGHT_SCHEMES, initialize_

NORMS = ("batch", "none")


@dataclass(frozen=True)
class ResNet18Config:
    name: str = "resnet18"
    width: int = 64  # k: channels of the first stage
    in_channels: int = 3
    out_dim: int = 10
    norm: str = "batch"
    init: str = "pytorch_default"

    def __post_init__(self) -> None:
        if self.width < 1:
            raise ValueError(f"model.width must be >= 1, got {self.width}")
        if self.norm not in NORMS:
            raise ValueError(f"model.norm must be one of {list(NORMS)}, got {self.norm!r}")
        if self.init not in WEIGHT_SCHEMES:
            raise ValueError(f"model.init must be one of {sorted(WEIGHT_SCHEMES)}, "
                             f"got {self.init!r}")


def _norm(kind: str, channels: int) -> nn.Module:
    return nn.BatchNorm2d(channels) if kind == "batch" else nn.Identity()


class BasicBlock(nn.Module):
    """Two 3×3 convolutions with a residual connection (He et al. 2016)."""

    def __init__(self, in_channels: int, channels: int, stride: int, norm: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=norm == "none")
        self.norm1 = _norm(norm, channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=norm == "none")
        self.norm2 = _norm(norm, channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride, bias=norm == "none"),
                _norm(norm, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.norm1(self.conv1(x)))
        return torch.relu(self.norm2(self.conv2(out)) + self.shortcut(x))


class ResNet18(nn.Module):
    def __init__(self, config: ResNet18Config) -> None:
        super().__init__()
        k, norm = config.width, config.norm
        self.stem = nn.Sequential(nn.Conv2d(config.in_channels, k, 3, 1, 1, bias=norm == "none"),
                                  _norm(norm, k), nn.ReLU())
        blocks, channels = [], k
        for stage, out in enumerate((k, 2 * k, 4 * k, 8 * k)):
            for index in range(2):
                stride = 2 if stage > 0 and index == 0 else 1
                blocks.append(BasicBlock(channels, out, stride, norm))
                channels = out
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(channels, config.out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.blocks(self.stem(x))
        return self.head(features.mean(dim=(2, 3)))


def build(config: ResNet18Config, generator: torch.Generator) -> nn.Module:
    return initialize_(ResNet18(config), generator, scheme=config.init)
