"""A configured subset of a verified dataset as the tensors a run trains on.

These datasets do not vary with the seed, and first-n-per-class subsets follow file order, as the
loukas2021 official code does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from trainlens.data.base import Loader, Split
from trainlens.data.corruption import corrupt_binary_labels, replace_labels_uniformly
from trainlens.data.preprocess import preprocess
from trainlens.data.torchvision.cache import _read_verified
from trainlens.data.torchvision.sources import SOURCES, TorchvisionConfig, _source


def _select(x: torch.Tensor, y: torch.Tensor, config: TorchvisionConfig, n_per_class: int | None,
            split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep ``config.classes`` (relabelled) and then the first ``n_per_class`` of each, in order."""
    if config.classes is not None:
        relabel = torch.full((config.n_classes,), -1, dtype=torch.int64)
        relabel[list(config.classes)] = torch.arange(len(config.classes))
        y = relabel[y]
        x, y = x[y >= 0], y[y >= 0]
    if n_per_class is not None:
        keep = torch.zeros(len(y), dtype=torch.bool)
        for c in range(len(config.classes) if config.classes is not None else config.n_classes):
            (rows,) = torch.nonzero(y == c, as_tuple=True)
            if len(rows) < n_per_class:
                raise ValueError(f"data.n_{split}_per_class = {n_per_class}, but the {split} split "
                                 f"of {config.name} has only {len(rows)} images of class {c}")
            keep[rows[:n_per_class]] = True
        x, y = x[keep], y[keep]
    return x, y


def superclass_map(fine: list[int], coarse: list[int],
                   classes: tuple[int, ...] | None) -> np.ndarray:
    """The CIFAR-100 fine -> coarse map as int64: entry c is the super-class of fine class c, or of
    ``classes[c]`` when ``classes`` relabels. A fine class absent from ``fine`` maps to -1 (only
    tiny test files lack one: the verified train file has 500 images of each). Raises ValueError
    when a fine class carries two coarse labels, which the real file never does.
    """
    fine_arr, coarse_arr = np.asarray(fine, dtype=np.int64), np.asarray(coarse, dtype=np.int64)
    if fine_arr.shape != coarse_arr.shape:
        raise ValueError(f"cifar100: {len(fine_arr)} fine labels but {len(coarse_arr)} coarse ones")
    table = np.full(SOURCES["cifar100"].n_classes, -1, dtype=np.int64)
    for c in np.unique(fine_arr):
        seen = np.unique(coarse_arr[fine_arr == c])
        if len(seen) != 1:
            raise ValueError(f"cifar100: fine class {c} has coarse labels {seen.tolist()} in the "
                             f"raw train file; each fine class must have exactly one")
        table[c] = seen[0]
    return table if classes is None else table[list(classes)]


def load_torchvision(config: TorchvisionConfig, rng: np.random.Generator, data_root: Path,
                     checksums: Mapping[str, str] | None = None) -> Split:
    """Verify, then read both splits whole: float32 NCHW inputs (or flat) and int64 labels.

    ``rng`` (the run's data stream) draws only the ``label_noise``: every seed sees the same
    images. ``checksums`` as in
    :func:`~trainlens.data.torchvision.verify.verify_files`.
    """
    splits = _read_verified(config.name, data_root, checksums)
    tensors: list[torch.Tensor] = []
    extras: dict[str, np.ndarray] = {}
    for split, n_per_class in (("train", config.n_train_per_class),
                               ("test", config.n_test_per_class)):
        x, y, raw = splits[split].images, splits[split].labels.clone(), splits[split].raw_labels
        superclasses = config.name == "cifar100" and not config.coarse_labels and split == "train"
        if config.coarse_labels or superclasses:
            coarse = raw["coarse_labels"]
            if len(coarse) != len(y):
                raise ValueError(f"{config.name}: {len(coarse)} coarse labels for {len(y)} images")
            if raw["fine_labels"] != y.tolist():  # the rows must pair up with torchvision's
                raise ValueError(f"{config.name}: the raw {split} fine labels differ from "
                                 f"torchvision's")
            if config.coarse_labels:
                y = torch.tensor(coarse, dtype=torch.int64)
            else:  # training on fine labels: the map groups them for the super-class analysis
                extras["superclass"] = superclass_map(raw["fine_labels"], coarse, config.classes)
        x, y = _select(x, y, config, n_per_class, split)
        if split == "train" and config.label_corruption > 0:  # the test set stays clean
            y = corrupt_binary_labels(y, config.label_corruption)
        if split == "train" and config.label_noise > 0:
            n_classes = len(config.classes) if config.classes is not None else config.n_classes
            y = replace_labels_uniformly(y, config.label_noise, n_classes, rng)
        # ToTensor then Normalize, as the official code's transforms do.
        x = (x.to(torch.float32).div(255) - config.normalize_mean) / config.normalize_std
        tensors += [x.reshape(len(x), -1) if config.flatten else x.contiguous(), y]
    x_train, y_train, x_test, y_test = tensors
    # Last, on the final tensors: fort2019 measures input distances on what the network sees.
    x_train, x_test = preprocess(x_train, x_test, config.preprocess)
    return Split(x_train, y_train, x_test, y_test, extras)


def loader(name: str) -> Loader:
    """The registry's loader for ``name``: :func:`load_torchvision` with the name checked."""
    _source(name)

    def load(config: TorchvisionConfig, rng: np.random.Generator, data_root: Path) -> Split:
        if config.name != name:
            raise ValueError(f"data.name is {config.name!r}, but this is the {name!r} loader")
        checksums = (json.loads(Path(config.checksums_file).read_text())
                     if config.checksums_file else None)
        return load_torchvision(config, rng, data_root, checksums)

    load.__name__ = load.__qualname__ = f"load_{name}"
    return load
