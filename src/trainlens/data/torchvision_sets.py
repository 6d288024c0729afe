"""MNIST, Fashion-MNIST, CIFAR-10 and CIFAR-100, read through torchvision from verified files only.

A run never downloads: :func:`load_torchvision` first checks every file against torchvision's own
MD5 table and otherwise fails with the command that fetches it; :func:`download` is that command.
The MD5s are read from torchvision's class attributes at call time, never retyped, so they always
belong to the installed reader. These datasets do not vary with the seed, and first-n-per-class
subsets follow file order, as the loukas2021 official code does.

:func:`download` also stores what torchvision decoded (``<root>/<name>/decoded.npz``, with its
MD5 and the size and modification time of every verified file in the stamp). A job then reads
that instead of importing torchvision and decoding again (seconds per job, dozens of jobs a
build); if any file changed since it was verified, or the checksum table differs, the job checks
and decodes the files through torchvision as before.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import pickle
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
import torch

from trainlens.data.base import Loader, Split
from trainlens.data.corruption import (
    check_label_corruption,
    check_label_noise,
    corrupt_binary_labels,
    replace_labels_uniformly,
)
from trainlens.data.preprocess import check_preprocess, preprocess
from trainlens.io import atomic_path


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


def _inside(root: Path, relpath: str) -> Path:
    """``root/relpath`` resolved, refusing anything (``..``, a symlink) that leads out of root."""
    base = root.resolve()
    path = (base / relpath).resolve()
    if not path.is_relative_to(base):
        raise ValueError(f"{relpath!r} resolves to {path}, outside the data root {base}")
    return path


def _md5(path: Path, opener: Callable[..., IO[bytes]] = open) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with opener(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch_hint(name: str, data_root: Path) -> str:
    return (f"`snakemake --cores 1 data/{name}/.verified` (from the repository root) or "
            f"`trainlens download --dataset {name} --data-root {data_root}`")


def _verify(name: str, data_root: Path, checksums: Mapping[str, str] | None) -> dict[str, str]:
    """:func:`verify_files`, returning the actual MD5 of every file checked."""
    root = Path(data_root)
    files = (_source(name).files() if checksums is None
             else [RequiredFile(rel, md5) for rel, md5 in checksums.items()])
    paths = {f.relpath: _inside(root, f.relpath) for f in files}
    missing = [paths[f.relpath] for f in files if not paths[f.relpath].is_file()]
    if missing:
        listing = "".join(f"\n  {p.name}  (must be in {p.parent}/)" for p in missing)
        raise FileNotFoundError(f"{name}: {len(missing)} required file(s) missing under the data "
                                f"root {root}:{listing}\nFetch them with "
                                f"{_fetch_hint(name, root)}.")
    actual = {rel: _md5(path) for rel, path in paths.items()}
    bad: dict[str, str] = {}
    for f in files:
        expected, what = f.md5, ""
        if f.archive is not None:
            if f.archive in bad:
                continue  # its archive is wrong already: downloading again replaces both
            expected, what = _md5(paths[f.archive], gzip.open), f" (the decompressed {f.archive})"
        if actual[f.relpath] != expected:
            bad[f.relpath] = (f"\n  {paths[f.relpath]}: expected MD5 {expected}{what}, "
                              f"got {actual[f.relpath]}")
    if bad:
        raise ValueError(f"{name}: checksum mismatch (corrupt, truncated or wrong file):"
                         f"{''.join(bad.values())}\nDelete the file(s) and download again with "
                         f"{_fetch_hint(name, root)}.")
    return actual


def verify_files(name: str, data_root: Path, checksums: Mapping[str, str] | None = None) -> None:
    """Check that every file of ``name`` exists under ``data_root`` and has the right MD5.

    ``checksums`` (relpath -> MD5) replaces torchvision's table; tests use it for tiny files.
    Raises FileNotFoundError listing every missing file and where it goes, ValueError on a
    checksum mismatch or on a path that leaves the data root.
    """
    _verify(name, data_root, checksums)


def download(name: str, data_root: Path, checksums: Mapping[str, str] | None = None) -> Path:
    """Fetch ``name`` unless verified in place; return its stamp ``<root>/<name>/.verified``.

    torchvision downloads into a temporary folder inside the data root (same filesystem, so each
    ``os.replace`` is atomic and no partial file is seen at its final path). The old stamp goes
    first and the new one comes last, so a stamp only ever covers a complete, verified set.
    """
    import torchvision

    source = _source(name)
    root = Path(data_root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    stamp = root / name / ".verified"
    stamp.unlink(missing_ok=True)
    try:
        md5s = _verify(name, root, checksums)
    except (FileNotFoundError, ValueError) as missing:
        staging = Path(tempfile.mkdtemp(prefix=f".download-{name}-", dir=root))
        try:
            try:
                source.dataset_class()(root=str(staging), train=True, download=True)
            except (OSError, RuntimeError) as error:  # offline: urllib errors, torchvision's
                raise FileNotFoundError(f"downloading {name} failed ({error}). {missing}") \
                    from None
            md5s = _verify(name, staging, None)
            for rel in md5s:
                target = _inside(root, rel)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / rel, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    record = {"dataset": name, "files": md5s, "torchvision": torchvision.__version__,
              "verified_at": datetime.now(UTC).isoformat(timespec="seconds"),
              "decoded": _write_decoded(name, root, checksums, md5s)}
    stamp.parent.mkdir(parents=True, exist_ok=True)
    tmp = stamp.with_name(f".verified.{os.getpid()}.tmp")  # per process: concurrent runs
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, stamp)
    return stamp


def _reader(source: Source) -> Any:
    """torchvision's class minus two checks that would undercut :func:`verify_files`.

    MNIST would prefer a legacy ``processed/*.pt`` cache to the raw files just verified; CIFAR
    re-hashes every file per split against its own table, repeating the check just made against
    the caller's. The name is kept because MNIST derives its folder from it.
    """
    base = source.dataset_class()
    if source.kind == "idx":
        overrides: dict[str, Any] = {"_check_legacy_exist": lambda self: False}
    else:
        overrides = {"train_list": [[f, None] for f, _ in base.train_list],
                     "test_list": [[f, None] for f, _ in base.test_list],
                     "meta": {**base.meta, "md5": None}}
    return type(base.__name__, (base,), overrides)


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


def _raw_labels(folder: Path, batches: list[list[Any]]) -> dict[str, list[int]]:
    """``fine_labels`` and ``coarse_labels`` of CIFAR-100's raw pickles, concatenated over
    ``batches`` in file order: torchvision keeps only the fine ones (docs/protocols/fort2019.md §7
    pitfall 11)."""
    labels: dict[str, list[int]] = {"fine_labels": [], "coarse_labels": []}
    for file_name, _ in batches:
        with open(folder / file_name, "rb") as f:
            entry = pickle.load(f, encoding="latin1")
        for key, values in labels.items():
            values.extend(entry[key])
    return labels


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


@dataclass(frozen=True)
class _RawSplit:
    images: torch.Tensor  # uint8 NCHW, as read (never modified: shared by every member)
    labels: torch.Tensor  # int64
    raw_labels: dict[str, list[int]] | None  # CIFAR-100's fine and coarse labels, else None


# One job loads its dataset once per member (18 in a fort2019 group): the files are verified
# and decoded once per process, keyed by the files' sizes and modification times so that a
# rewritten file is read (and checked) again.
_READ_CACHE: dict[tuple, dict[str, _RawSplit]] = {}


def _read_verified(name: str, data_root: Path, checksums: Mapping[str, str] | None
                   ) -> dict[str, _RawSplit]:
    """Both splits of ``name`` whole, from files verified by :func:`verify_files`: the stamp's
    decoded copy when it still describes the files, else checked and decoded through
    torchvision."""
    source = _source(name)
    folder = Path(data_root) / source.folder
    stats = tuple(sorted((str(p), p.stat().st_size, p.stat().st_mtime_ns)
                         for p in folder.rglob("*") if p.is_file())) if folder.is_dir() else ()
    key = (name, str(Path(data_root).resolve()), json.dumps(checksums, sort_keys=True), stats)
    if key in _READ_CACHE:
        return _READ_CACHE[key]
    splits = _read_decoded(name, Path(data_root), checksums)
    if splits is None:
        verify_files(name, data_root, checksums)
        splits = _decode(name, Path(data_root))
    _READ_CACHE.clear()  # one dataset at a time: a job reads one
    _READ_CACHE[key] = splits
    return splits


def _decode(name: str, data_root: Path) -> dict[str, _RawSplit]:
    """Read both splits of verified files through torchvision's reader."""
    source = _source(name)
    reader = _reader(source)
    splits = {}
    for split in ("train", "test"):
        dataset = reader(root=str(data_root), train=split == "train", download=False)
        if source.kind == "idx":
            x = dataset.data.unsqueeze(1)  # uint8 (N, 28, 28) -> (N, 1, 28, 28)
        else:
            x = torch.from_numpy(dataset.data).permute(0, 3, 1, 2)  # torchvision keeps HWC
        y = torch.as_tensor(dataset.targets, dtype=torch.int64)
        raw = None
        if name == "cifar100":
            batches = dataset.train_list if split == "train" else dataset.test_list
            raw = _raw_labels(data_root / source.folder, batches)
        splits[split] = _RawSplit(x, y, raw)
    return splits


DECODED = "decoded.npz"


def _file_stats(root: Path, relpaths: list[str]) -> dict[str, list[int]]:
    stats = {rel: _inside(root, rel).stat() for rel in relpaths}
    return {rel: [st.st_size, st.st_mtime_ns] for rel, st in stats.items()}


def _write_decoded(name: str, root: Path, checksums: Mapping[str, str] | None,
                   md5s: Mapping[str, str]) -> dict[str, Any]:
    """Decode the verified files once and save the arrays beside the stamp; returns the stamp's
    ``decoded`` entry (the copy's MD5, the checksum table, and each file's size and mtime)."""
    arrays: dict[str, np.ndarray] = {}
    for split, raw in _decode(name, root).items():
        arrays[f"{split}_images"] = raw.images.contiguous().numpy()
        arrays[f"{split}_labels"] = raw.labels.numpy()
        for label_kind, labels in (raw.raw_labels or {}).items():
            arrays[f"{split}_raw_{label_kind}"] = np.asarray(labels, dtype=np.int64)
    target = root / name / DECODED
    with atomic_path(target) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)  # uncompressed: read in a fraction of a second
    return {"file": DECODED, "md5": _md5(target), "checksums": dict(checksums or {}) or None,
            "torchvision": metadata.version("torchvision"),  # the reader that decoded it
            "sources": _file_stats(root, sorted(md5s))}


def _read_decoded(name: str, root: Path, checksums: Mapping[str, str] | None
                  ) -> dict[str, _RawSplit] | None:
    """The stamp's decoded copy, or None unless it is there, was made under the same checksum
    table and torchvision version, every verified file is unchanged (size and modification
    time) and the copy matches its MD5."""
    stamp = root / name / ".verified"
    try:
        entry = json.loads(stamp.read_text())["decoded"]
        if (entry["checksums"] != (dict(checksums or {}) or None)
                or entry["torchvision"] != metadata.version("torchvision")
                or _file_stats(root, sorted(entry["sources"])) != entry["sources"]):
            return None
        path = stamp.parent / entry["file"]
        if _md5(path) != entry["md5"]:
            print(f"{path}: MD5 differs from {stamp}; reading the verified files instead",
                  file=sys.stderr)
            return None
        with np.load(path) as arrays:
            return {split: _RawSplit(
                torch.from_numpy(arrays[f"{split}_images"]),
                torch.from_numpy(arrays[f"{split}_labels"]),
                {kind: arrays[f"{split}_raw_{kind}"].tolist()
                 for kind in ("fine_labels", "coarse_labels")}
                if f"{split}_raw_fine_labels" in arrays else None)
                for split in ("train", "test")}
    except (OSError, KeyError, ValueError, TypeError):  # no stamp, an old one, a missing file
        return None


def load_torchvision(config: TorchvisionConfig, rng: np.random.Generator, data_root: Path,
                     checksums: Mapping[str, str] | None = None) -> Split:
    """Verify, then read both splits whole: float32 NCHW inputs (or flat) and int64 labels.

    ``rng`` (the run's data stream) draws only the ``label_noise``: every seed sees the same
    images. ``checksums`` as in :func:`verify_files`.
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
