"""Both splits of a verified dataset as uint8 arrays, decoded once.

:func:`~trainlens.data.torchvision.fetch.download` stores what torchvision decoded
(``<root>/<name>/decoded.npz``, with its MD5 and the size and modification time of every verified
file in the stamp). A job then reads that instead of importing torchvision and decoding again
(seconds per job, dozens of jobs a build); if any file changed since it was verified, or the
checksum table differs, the job checks and decodes the files through torchvision as before.
Within one process the decoded splits are kept, so the members of a job read them once.
"""

from __future__ import annotations

import json
import pickle
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trainlens.data.torchvision.sources import Source, _source
from trainlens.data.torchvision.verify import _inside, _md5, verify_files
from trainlens.io import atomic_path


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
