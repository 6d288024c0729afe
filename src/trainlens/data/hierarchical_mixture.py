"""A synthetic hierarchical Gaussian mixture: the fort2019 E3 smoke data
(docs/protocols/fort2019.md §3 E3), which
stands in for CIFAR-100's 20 super-classes x 5 fine classes at plumbing scale.

Super-class centres are ``super_scale * N(0, I)``, class centres their super-class centre plus
``class_scale * N(0, I)``, points their class centre plus ``noise * N(0, I)``. Labels are the fine
classes 0..n_super*classes_per_super-1, and class c belongs to super-class c // classes_per_super.
The centres come from a fixed ``structure_seed``, so every run seed sees the same classes; the
points come from the run's data stream.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from trainlens.data.base import Split
from trainlens.data.preprocess import check_preprocess, preprocess


@dataclass(frozen=True)
class HierarchicalMixtureConfig:
    name: str = "hierarchical_mixture"
    input_dim: int = 64
    n_super: int = 4
    classes_per_super: int = 5
    n_train_per_class: int = 30
    n_test_per_class: int = 30
    super_scale: float = 3.0
    class_scale: float = 1.5
    noise: float = 1.0
    structure_seed: int = 7
    preprocess: str = "standardize_unit_norm"  # fort2019 §3, as for every fort2019 input

    def __post_init__(self) -> None:
        for key in ("input_dim", "n_super", "classes_per_super", "n_train_per_class",
                    "n_test_per_class"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"data.{key} must be an integer >= 1, got {value!r}")
        if self.n_classes < 2:
            raise ValueError(f"data.n_super * data.classes_per_super must be >= 2 classes, "
                             f"got {self.n_classes}")
        for key in ("super_scale", "class_scale"):
            if not (math.isfinite(getattr(self, key)) and getattr(self, key) >= 0):
                raise ValueError(f"data.{key} must be finite and >= 0, got {getattr(self, key)}")
        if not (math.isfinite(self.noise) and self.noise > 0):
            raise ValueError(f"data.noise must be finite and > 0, got {self.noise}")
        seed = self.structure_seed
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"data.structure_seed must be an integer >= 0, got {seed!r}")
        check_preprocess(self.preprocess)

    @property
    def n_classes(self) -> int:
        return self.n_super * self.classes_per_super


def superclass_of(config: HierarchicalMixtureConfig) -> np.ndarray:
    """int64 map fine class -> super-class (entry c is c // classes_per_super)."""
    return np.arange(config.n_classes, dtype=np.int64) // config.classes_per_super


def class_centres(config: HierarchicalMixtureConfig) -> np.ndarray:
    """The (n_classes, input_dim) class centres, a function of the config alone."""
    structure = np.random.default_rng(config.structure_seed)
    supers = config.super_scale * structure.standard_normal((config.n_super, config.input_dim))
    offsets = config.class_scale * structure.standard_normal((config.n_classes, config.input_dim))
    return supers[superclass_of(config)] + offsets


def load(config: HierarchicalMixtureConfig, rng: np.random.Generator, data_root: Path) -> Split:
    """Both splits drawn from ``rng`` (train first), grouped by class in label order; then
    ``preprocess`` with training statistics. ``data_root`` is unused."""
    centres = class_centres(config)

    def draw(n_per_class: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = np.repeat(np.arange(config.n_classes), n_per_class)
        x = centres[labels] + config.noise * rng.standard_normal((len(labels), config.input_dim))
        return torch.from_numpy(x), torch.from_numpy(labels.astype(np.int64))

    x_train, y_train = draw(config.n_train_per_class)
    x_test, y_test = draw(config.n_test_per_class)
    x_train, x_test = preprocess(x_train, x_test, config.preprocess)
    return Split(x_train, y_train, x_test, y_test, {"superclass": superclass_of(config)})
