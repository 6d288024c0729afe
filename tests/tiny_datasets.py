"""Tiny dataset files in the exact on-disk formats torchvision reads (tests only).

MNIST-like: big-endian IDX files (magic 2051 images, 2049 labels) in ``<root>/<Class>/raw`` plus
their ``.gz`` archives. CIFAR: pickled dicts of ``data`` (N x 3072 uint8, R then G then B planes,
each 32x32 row-major) and labels. Labels cycle through the classes in shuffled order, so every
class has about n/10 images. Used by the torchvision loader tests and the paper-scale slice test.
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
import struct
from pathlib import Path

import numpy as np

RNG = np.random.default_rng(0)
MNIST_FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
               "t10k-labels-idx1-ubyte"]


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def checksums_of(root: Path) -> dict[str, str]:
    """relpath -> MD5 of every file written under ``root``."""
    return {p.relative_to(root).as_posix(): md5(p) for p in sorted(root.rglob("*")) if p.is_file()}


def write_mnist(root: Path, folder: str = "MNIST", n_train: int = 30, n_test: int = 20) -> dict:
    """IDX files + .gz archives; labels cycle 0..9 shuffled so classes interleave in file order."""
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = RNG.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = RNG.permutation(np.arange(n) % 10).astype(np.uint8)
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(
            struct.pack(">IIII", 2051, n, 28, 28) + images.tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(
            struct.pack(">II", 2049, n) + labels.tobytes())
        arrays[prefix] = (images, labels)
    for name in MNIST_FILES:
        (raw / f"{name}.gz").write_bytes(gzip.compress((raw / name).read_bytes(), mtime=0))
    return arrays


def dump(path: Path, obj: dict) -> None:
    path.write_bytes(pickle.dumps(obj, protocol=2))


def write_cifar10(root: Path, per_batch: int = 6, n_test: int = 12) -> dict:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    batches = []
    for i in range(1, 6):
        data = RNG.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in RNG.permutation(np.arange(per_batch) % 10)]
        dump(folder / f"data_batch_{i}", {"batch_label": f"batch {i}", "data": data,
                                          "labels": labels})
        batches.append((data, labels))
    test = RNG.integers(0, 256, size=(n_test, 3072), dtype=np.uint8)
    test_labels = [int(v) for v in np.arange(n_test) % 10]
    dump(folder / "test_batch", {"data": test, "labels": test_labels})
    dump(folder / "batches.meta", {"label_names": [f"c{i}" for i in range(10)]})
    return {"train": (np.concatenate([d for d, _ in batches]), sum((lb for _, lb in batches), [])),
            "test": (test, test_labels)}


# One super-class per fine class, as in the real files (fort2019 E3 reads this map).
CIFAR100_FINE_TO_COARSE = np.random.default_rng(5).integers(0, 20, size=100)


def write_cifar100(root: Path, n_train: int = 40, n_test: int = 10) -> dict:
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        data = RNG.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        fine = [int(v) for v in RNG.permutation(np.arange(n) % 100)]
        coarse = [int(CIFAR100_FINE_TO_COARSE[f]) for f in fine]
        dump(folder / split, {"data": data, "fine_labels": fine, "coarse_labels": coarse})
        arrays[split] = (data, fine, coarse)
    dump(folder / "meta", {"fine_label_names": [f"f{i}" for i in range(100)],
                           "coarse_label_names": [f"k{i}" for i in range(20)]})
    return arrays


