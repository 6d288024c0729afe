"""Which torchvision datasets trainlens reads, where torchvision lays out their files, and the
``data`` section that selects and scales a subset of one (:class:`TorchvisionConfig`).

The MD5s are read from torchvision's class attributes at call time, never retyped, so they always
belong to the installed reader.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from trainlens.data.corruption import check_label_corruption, check_label_noise
from trainlens.data.preprocess import check_preprocess


@dataclass(frozen=True)
class RequiredFile:
    """A file relative to the data root, checked by ``md5`` or, when that is None, against the
    decompressed content of its verified ``archive``: MNIST-like sets have official MD5s only for
    the ``.gz`` files, while torchvision reads the extracted ones (and only checks they exist).
    """

    relpath: str
    md5: str | None
    archive: str | None = None


@dataclass(frozen=True)
class Source:
    """Where torchvision expects one dataset; the class is imported lazily (torchvision is slow)."""

    class_name: str  # in torchvision.datasets
    folder: str  # relative to the data root, as torchvision lays it out
    n_classes: int
    kind: Literal["idx", "cifar"]

    def dataset_class(self) -> Any:
        import torchvision.datasets

        return getattr(torchvision.datasets, self.class_name)

    def files(self) -> list[RequiredFile]:
        """Every file needed on disk, archives before the files extracted from them."""
        cls = self.dataset_class()
        if self.kind == "idx":
            archives = [RequiredFile(f"{self.folder}/{gz}", md5) for gz, md5 in cls.resources]
            return archives + [RequiredFile(a.relpath.removesuffix(".gz"), None, a.relpath)
                               for a in archives]
        batches = [*cls.train_list, *cls.test_list, [cls.meta["filename"], cls.meta["md5"]]]
        return [RequiredFile(f"{self.folder}/{name}", md5) for name, md5 in batches]


SOURCES: dict[str, Source] = {
    "mnist": Source("MNIST", "MNIST/raw", 10, "idx"),
    "fashion_mnist": Source("FashionMNIST", "FashionMNIST/raw", 10, "idx"),
    "cifar10": Source("CIFAR10", "cifar-10-batches-py", 10, "cifar"),
    "cifar100": Source("CIFAR100", "cifar-100-python", 100, "cifar"),
}


@dataclass(frozen=True)
class TorchvisionConfig:
    """Which images, how many, and how to scale them.

    ``classes`` keeps only these labels, relabelled 0..k-1 in the given order.
    ``n_train_per_class``/``n_test_per_class`` keep the first n images of each kept class in file
    order. Pixels go through ToTensor (/255) then (x − mean)/std on every channel. ``coarse_labels``
    (cifar100 only) uses the 20 super-classes, which torchvision drops, from the raw files; with
    fine labels, ``Split.extras["superclass"]`` holds the fine -> coarse map instead (fort2019 E3).
    ``preprocess`` (see :mod:`trainlens.data.preprocess`) comes last, on the tensors the network
    sees.
    """

    name: str
    classes: tuple[int, ...] | None = None
    n_train_per_class: int | None = None
    n_test_per_class: int | None = None
    normalize_mean: float = 0.5
    normalize_std: float = 0.5
    flatten: bool = False
    coarse_labels: bool = False
    label_corruption: float = 0.0  # loukas2021 E1b rule on the training labels (2 classes only)
    label_noise: float = 0.0  # dherin2022: share of training labels redrawn from all classes
    # A JSON file relpath -> MD5 that replaces torchvision's table: only for the tiny synthetic
    # files of the paper-scale slice test (trainlens resolve --slice --checksums).
    checksums_file: str | None = None
    preprocess: str = "none"  # fort2019 §3: "standardize_unit_norm"

    def __post_init__(self) -> None:
        _source(self.name)
        check_preprocess(self.preprocess)
        check_label_corruption(
            self.label_corruption, self.classes is not None and len(self.classes) == 2,
            "exactly two data.classes (the loukas2021 rule redraws labels from {0, 1})")
        check_label_noise(self.label_noise)
        if self.coarse_labels and self.name != "cifar100":
            raise ValueError(f"data.coarse_labels can be true only for cifar100, not {self.name!r}")
        if self.classes is not None:
            object.__setattr__(self, "classes", tuple(self.classes))
            n = self.n_classes
            ok = all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c < n
                     for c in self.classes)
            if not ok or len(set(self.classes)) != len(self.classes) or len(self.classes) < 2:
                raise ValueError(f"data.classes must be >= 2 distinct labels in 0..{n - 1} for "
                                 f"{self.name}, got {self.classes}")
        for key in ("n_train_per_class", "n_test_per_class"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"data.{key} must be an integer >= 1 or null, got {value!r}")
        if not math.isfinite(self.normalize_mean):
            raise ValueError(f"data.normalize_mean must be finite, got {self.normalize_mean}")
        if not (math.isfinite(self.normalize_std) and self.normalize_std > 0):
            raise ValueError(f"data.normalize_std must be finite and > 0, got {self.normalize_std}")

    @property
    def n_classes(self) -> int:
        """The number of labels before ``classes`` filtering."""
        return 20 if self.coarse_labels else SOURCES[self.name].n_classes  # 20 super-classes


def _source(name: str) -> Source:
    if name not in SOURCES:
        raise ValueError(f"data.name must be one of {sorted(SOURCES)}, got {name!r}")
    return SOURCES[name]
