"""scikit-learn's bundled ``load_digits``: 1,797 real 8x8 handwritten digits, no download needed.

It is the smoke-scale stand-in for the image datasets of every paper: loukas2021 E1b/E3 upsample it
to 32x32 or 28x28 (docs/protocols/loukas2021.md §3), dherin2022 and fort2019 use it flat. The
train/test split is drawn
from a fixed ``split_seed`` (not the run seed), so every seed of a sweep sees the same data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from trainlens.data.base import Split, digit_classes
from trainlens.data.corruption import (
    check_label_corruption,
    check_label_noise,
    corrupt_binary_labels,
    replace_labels_uniformly,
)
from trainlens.data.preprocess import check_preprocess, preprocess


@dataclass(frozen=True)
class DigitsConfig:
    """Which digits, how many, and how to shape them.

    ``classes`` keeps only these digits, relabelled 0..k-1 in the given order (loukas2021 uses
    binary tasks such as 0 vs 5). ``n_train``/``n_test`` are per class when ``per_class`` is true,
    otherwise totals. ``image_size`` > 8 upsamples bilinearly; ``channels`` replicates the gray
    channel; ``normalize`` maps pixels/16 ∈ [0, 1] to (p − 0.5)/0.5 like torchvision's
    Normalize(0.5, 0.5); ``flatten`` returns vectors instead of NCHW images. ``preprocess``
    (see :mod:`trainlens.data.preprocess`) comes last, on the tensors the network sees.
    """

    name: str = "digits"
    classes: tuple[int, ...] | None = None
    n_train: int | None = None
    n_test: int | None = None
    per_class: bool = False
    split_seed: int = 123
    image_size: int = 8
    channels: int = 1
    normalize: bool = False
    flatten: bool = True
    label_corruption: float = 0.0  # loukas2021 E1b rule on the training labels (2 classes only)
    label_noise: float = 0.0  # dherin2022: share of training labels redrawn from all classes
    preprocess: str = "none"  # fort2019 §3: "standardize_unit_norm"

    def __post_init__(self) -> None:
        if self.classes is not None:
            object.__setattr__(self, "classes", digit_classes(self.classes))
        if self.image_size < 8:
            raise ValueError(f"data.image_size must be >= 8 (the native size), "
                             f"got {self.image_size}")
        if self.channels not in (1, 3):
            raise ValueError(f"data.channels must be 1 or 3, got {self.channels}")
        check_label_corruption(
            self.label_corruption, self.classes is not None and len(self.classes) == 2,
            "exactly two data.classes (the loukas2021 rule redraws labels from {0, 1})")
        check_label_noise(self.label_noise)
        check_preprocess(self.preprocess)


def _split_indices(labels: np.ndarray, config: DigitsConfig) -> tuple[np.ndarray, np.ndarray]:
    """A fixed random split: permute once with ``split_seed``, then take the first n (per class)."""
    order = np.random.default_rng(config.split_seed).permutation(len(labels))
    if not config.per_class:
        n_train = config.n_train if config.n_train is not None else len(order) * 2 // 3
        n_test = config.n_test if config.n_test is not None else len(order) - n_train
        if n_train + n_test > len(order):
            raise ValueError(f"data.n_train + data.n_test = {n_train + n_test} exceeds the "
                             f"{len(order)} digits available")
        return order[:n_train], order[n_train:n_train + n_test]
    train, test = [], []
    for c in np.unique(labels):
        of_class = order[labels[order] == c]
        n_train = config.n_train if config.n_train is not None else len(of_class) * 2 // 3
        n_test = config.n_test if config.n_test is not None else len(of_class) - n_train
        if n_train + n_test > len(of_class):
            raise ValueError(f"data.n_train + data.n_test = {n_train + n_test} per class exceeds "
                             f"the {len(of_class)} images of digit class {c}")
        train.append(of_class[:n_train])
        test.append(of_class[n_train:n_train + n_test])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _shape(pixels: np.ndarray, config: DigitsConfig) -> torch.Tensor:
    x = torch.from_numpy(pixels / 16.0).reshape(-1, 1, 8, 8)
    if config.image_size != 8:
        x = F.interpolate(x, size=(config.image_size, config.image_size), mode="bilinear",
                          align_corners=False)
    x = x.expand(-1, config.channels, -1, -1)
    if config.normalize:
        x = (x - 0.5) / 0.5
    return x.reshape(len(x), -1).contiguous() if config.flatten else x.contiguous()


def load(config: DigitsConfig, rng: np.random.Generator, data_root: Path) -> Split:
    """Load the bundled digits (``data_root`` unused). ``rng`` (the run's data stream) draws only
    the ``label_noise``; without it every seed sees the same data."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    pixels, labels = bunch.data, bunch.target
    if config.classes is not None:
        keep = np.isin(labels, config.classes)
        pixels, labels = pixels[keep], labels[keep]
        relabel = np.full(10, -1)
        relabel[list(config.classes)] = np.arange(len(config.classes))
        labels = relabel[labels]
    train, test = _split_indices(labels, config)
    y_train = torch.from_numpy(labels[train]).long()
    if config.label_corruption > 0:  # training labels only; the test set stays clean
        y_train = corrupt_binary_labels(y_train, config.label_corruption)
    if config.label_noise > 0:
        n_classes = len(config.classes) if config.classes is not None else 10
        y_train = replace_labels_uniformly(y_train, config.label_noise, n_classes, rng)
    # Last, on the final tensors: fort2019 measures input distances on what the network sees.
    x_train, x_test = preprocess(_shape(pixels[train], config), _shape(pixels[test], config),
                                 config.preprocess)
    return Split(x_train, y_train, x_test, torch.from_numpy(labels[test]).long())
