"""Stand-in data and shortened configs for the GPU check (``python -m benchmarks.gpu_check``).

A device machine cannot download MNIST, Fashion-MNIST or CIFAR, yet every paper-scale group must
still be timed. Where a dataset has no verified copy under the data root (no
``<root>/<name>/.verified`` stamp, which ``trainlens download`` writes), :func:`stand_in_data`
serves random uint8 images of the dataset's own shape and split sizes, with balanced labels, to
the real loader: class selection, first-n-per-class, normalisation, flattening, label noise and
fort2019's preprocessing all run as in a real job, on data that carries no signal. Per-step cost
does not depend on pixel values, so timings hold; accuracies and verdicts mean nothing.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import torch

from trainlens.data.torchvision import load
from trainlens.data.torchvision.cache import _RawSplit
from trainlens.data.torchvision.sources import SOURCES

# (train size, test size, image shape) of the published files, as torchvision decodes them
RAW_SHAPES: dict[str, tuple[int, int, tuple[int, ...]]] = {
    "mnist": (60000, 10000, (1, 28, 28)),
    "fashion_mnist": (60000, 10000, (1, 28, 28)),
    "cifar10": (50000, 10000, (3, 32, 32)),
    "cifar100": (50000, 10000, (3, 32, 32)),
}
CIFAR100_FINE_PER_COARSE = 5  # a stand-in super-class map: fine class c in super-class c // 5


def has_verified_copy(name: str, data_root: Path) -> bool:
    """Whether ``trainlens download`` verified this dataset under ``data_root``."""
    return (Path(data_root) / name / ".verified").is_file()


def _raw_split(name: str, n: int, shape: tuple[int, ...], seed: int
               ) -> _RawSplit:
    n_classes = SOURCES[name].n_classes
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, *shape), generator=generator, dtype=torch.uint8)
    labels = torch.arange(n, dtype=torch.int64) % n_classes  # balanced: every class n / K times
    raw = None
    if name == "cifar100":
        fine = labels.tolist()
        raw = {"fine_labels": fine, "coarse_labels": [c // CIFAR100_FINE_PER_COARSE for c in fine]}
    return _RawSplit(images, labels, raw)


@contextlib.contextmanager
def stand_in_data(data_root: Path, used: set[str]) -> Iterator[None]:
    """Within the block, datasets without a verified copy under ``data_root`` are served as
    random images of their published shape; their names are added to ``used``."""
    real = load._read_verified  # looked up in load, by load_torchvision
    cache: dict[str, dict[str, _RawSplit]] = {}

    def read(name: str, root: Path, checksums: Any) -> dict[str, _RawSplit]:
        if has_verified_copy(name, root):
            return real(name, root, checksums)
        used.add(name)
        if name not in cache:
            n_train, n_test, shape = RAW_SHAPES[name]
            cache.clear()  # one dataset at a time, as the real reader caches
            cache[name] = {"train": _raw_split(name, n_train, shape, 0),
                           "test": _raw_split(name, n_test, shape, 1)}
        return cache[name]

    with mock.patch.object(load, "_read_verified", read):
        yield


def is_image_set(data: dict[str, Any]) -> bool:
    return data["name"] in RAW_SHAPES


def kept_classes(data: dict[str, Any]) -> int:
    """How many classes a torchvision data block keeps."""
    if data.get("classes"):
        return len(data["classes"])
    return 20 if data.get("coarse_labels") else SOURCES[data["name"]].n_classes


def full_n_train(data: dict[str, Any]) -> int | None:
    """Training-set size of an image data block at full size (None: not an image set). With
    no ``n_train_per_class`` the stand-in's balanced count (the real MNIST is not quite
    balanced; its share of the kept classes differs by a few percent)."""
    if not is_image_set(data):
        return None
    per_class = data.get("n_train_per_class")
    if per_class is None:
        raw_classes = SOURCES[data["name"]].n_classes
        per_class = RAW_SHAPES[data["name"]][0] // raw_classes
        if data.get("coarse_labels"):
            per_class *= CIFAR100_FINE_PER_COARSE
    return per_class * kept_classes(data)


def full_n_test(data: dict[str, Any]) -> int | None:
    if not is_image_set(data):
        return None
    per_class = data.get("n_test_per_class")
    if per_class is None:
        per_class = RAW_SHAPES[data["name"]][1] // SOURCES[data["name"]].n_classes
        if data.get("coarse_labels"):
            per_class *= CIFAR100_FINE_PER_COARSE
    return per_class * kept_classes(data)


def cap_data(config: dict[str, Any], train_cap: int, min_batch: int = 1) -> dict[str, Any]:
    """A copy of a group config whose image sets keep at most about ``train_cap`` training and
    ``train_cap // 4`` test images per member (first n per class), at least ``min_batch``
    training images (one full batch). 0 keeps every image. Other datasets are left as they are
    (the paper-scale ones are small)."""
    out = copy.deepcopy(config)
    if train_cap <= 0:
        return out
    for member in out["members"]:
        data = member["data"]
        if not is_image_set(data):
            continue
        k = kept_classes(data)
        train_per_class = math.ceil(max(train_cap, min_batch) / k)
        test_per_class = math.ceil(max(train_cap // 4, 1) / k)
        data["n_train_per_class"] = min(full_n_train(data) // k, train_per_class)
        data["n_test_per_class"] = min(full_n_test(data) // k, test_per_class)
    return out
