"""Types shared by every dataset module: the loaded split and the registry entry."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch


@dataclass(frozen=True)
class Split:
    """One run's data, as tensors that sit on the training device (no DataLoader: it all fits).

    ``extras`` holds arrays a probe needs to reproduce the data geometry later, e.g. the embedding
    matrix Q of the loukas2021 sinusoid (docs/protocols/loukas2021.md §7 P18: the regions analysis
    must use the training Q).
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    def to(self, device: torch.device | str, dtype: torch.dtype) -> Split:
        """Move to ``device``; inputs and float targets take ``dtype``, class labels stay int."""

        def cast(t: torch.Tensor) -> torch.Tensor:
            return t.to(device=device, dtype=dtype if t.is_floating_point() else t.dtype)

        return Split(cast(self.x_train), cast(self.y_train), cast(self.x_test), cast(self.y_test),
                     self.extras)


# load(config, rng, data_root) -> Split. ``rng`` is the run's "data" stream; datasets that do not
# vary with the seed ignore it, so every member of an ensemble then sees identical data.
Loader = Callable[[Any, np.random.Generator, Path], Split]


@dataclass(frozen=True)
class DatasetSpec:
    """A registry entry: the config dataclass, the loader, and what the data needs on disk."""

    config_cls: type
    load: Loader
    varies_with_seed: bool
    needs_download: bool = False


def digit_classes(classes: Sequence[int]) -> tuple[int, ...]:
    """``data.classes`` of a digits dataset (digits, mnist5k) checked: at least two distinct
    digits in 0..9, kept in the given order (they are relabelled 0..k-1 in that order)."""
    classes = tuple(classes)
    bad = [c for c in classes if not 0 <= c <= 9]
    if bad or len(set(classes)) != len(classes) or len(classes) < 2:
        raise ValueError(f"data.classes must be >= 2 distinct digits in 0..9, got {classes}")
    return classes
