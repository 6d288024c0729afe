"""Synthetic inputs for GC at initialisation (dherin2022 E1, docs/protocols/dherin2022.md §3):
points drawn uniformly
from the cube [low, high]^d, with placeholder labels 0 (nothing is trained on them).

The protocol's E1 uses 256 inputs from U[0, 1]^784 [inferred]; train and test sets are independent
draws from the run's data stream, so every seed measures on its own inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from trainlens.data.base import Split


@dataclass(frozen=True)
class UniformInputsConfig:
    name: str = "uniform_inputs"
    input_dim: int = 784
    n_train: int = 256
    n_test: int = 256
    low: float = 0.0
    high: float = 1.0

    def __post_init__(self) -> None:
        for key in ("input_dim", "n_train", "n_test"):
            if getattr(self, key) < 1:
                raise ValueError(f"data.{key} must be >= 1, got {getattr(self, key)}")
        if not self.low < self.high:
            raise ValueError(f"data.low must be < data.high, got [{self.low}, {self.high}]")


def load(config: UniformInputsConfig, rng: np.random.Generator, data_root: Path) -> Split:
    """Independent uniform draws for both splits (``data_root`` unused)."""
    def draw(n: int) -> torch.Tensor:
        return torch.from_numpy(rng.uniform(config.low, config.high, size=(n, config.input_dim)))

    x_train, x_test = draw(config.n_train), draw(config.n_test)
    return Split(x_train, torch.zeros(config.n_train, dtype=torch.int64), x_test,
                 torch.zeros(config.n_test, dtype=torch.int64))
