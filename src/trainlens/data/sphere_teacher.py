"""nakazato2024 data (docs/protocols/nakazato2024.md §3 "Common setup", reconstructed): a linear
teacher on the sphere.

x = g/‖g‖ with g ~ N(0, I_d) (uniform on S^{d-1}); y = sign(u·x) ∈ {-1, +1} for a random unit
teacher u; a fraction q of the training labels is flipped. Points, teacher and flips are redrawn
per seed. The flips come from their own child stream (docs/protocols/nakazato2024.md §4.7 "Random
streams"), so changing q
never changes the points or the teacher. There is no test set (the paper's is not known); the
probes read the training inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from trainlens.data.base import Split


@dataclass(frozen=True)
class SphereTeacherConfig:
    """d (input_dim), N (n_train) and the label-flip fraction q of docs/protocols/nakazato2024.md
    §3."""

    name: str = "sphere_teacher"
    input_dim: int = 8
    n_train: int = 32
    label_flip: float = 0.0

    def __post_init__(self) -> None:
        if self.input_dim < 1 or self.n_train < 1:
            raise ValueError(f"data.input_dim and data.n_train must be >= 1, got "
                             f"{self.input_dim}, {self.n_train}")
        if not 0 <= self.label_flip <= 1:
            raise ValueError(f"data.label_flip must be in [0, 1], got {self.label_flip}")


def unit_rows(g: np.ndarray) -> np.ndarray:
    return g / np.linalg.norm(g, axis=-1, keepdims=True)


def load(config: SphereTeacherConfig, rng: np.random.Generator, data_root: Path) -> Split:
    """N points on S^{d-1} with teacher labels, round(qN) of them flipped (exactly)."""
    # spawned before any draw: the flip stream never shifts the points' or the teacher's draws
    flip_rng = rng.spawn(1)[0]
    d, n = config.input_dim, config.n_train
    teacher = unit_rows(rng.standard_normal(d))
    x = unit_rows(rng.standard_normal((n, d)))
    y = np.where(x @ teacher >= 0, 1.0, -1.0)
    flipped = flip_rng.permutation(n)[: int(round(config.label_flip * n))]
    y[flipped] *= -1
    empty = torch.zeros(0, d, dtype=torch.float64)
    return Split(torch.from_numpy(x), torch.from_numpy(y), empty,
                 torch.zeros(0, dtype=torch.float64),
                 extras={"teacher": teacher, "flipped": np.sort(flipped)})
