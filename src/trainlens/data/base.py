"""Types shared by every dataset module: the loaded split and the registry entry."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trainlens.slice_rule import SliceRule
from trainlens.splits import Split  # re-exported: a Loader returns one

# load(config, rng, data_root) -> Split. ``rng`` is the run's "data" stream; datasets that do not
# vary with the seed ignore it, so every member of an ensemble then sees identical data.
Loader = Callable[[Any, np.random.Generator, Path], Split]


@dataclass(frozen=True)
class DatasetSpec:
    """A registry entry: the config dataclass, the loader, what the data needs on disk, and how
    its block shrinks for a tiny slice (a downloaded set also gets the slice's checksum table)."""

    config_cls: type
    load: Loader
    varies_with_seed: bool
    needs_download: bool = False
    slice_rule: SliceRule = field(default_factory=SliceRule)


def digit_classes(classes: Sequence[int]) -> tuple[int, ...]:
    """``data.classes`` of a digits dataset (digits, mnist5k) checked: at least two distinct
    digits in 0..9, kept in the given order (they are relabelled 0..k-1 in that order)."""
    classes = tuple(classes)
    bad = [c for c in classes if not 0 <= c <= 9]
    if bad or len(set(classes)) != len(classes) or len(classes) < 2:
        raise ValueError(f"data.classes must be >= 2 distinct digits in 0..9, got {classes}")
    return classes
