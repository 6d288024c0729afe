"""Checking a dataset's files in place: paths that stay inside the data root, MD5s against
torchvision's table (or a given one), and errors that name every missing or wrong file with the
command that fetches it. A run never downloads: it only verifies.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

from trainlens.data.torchvision.sources import RequiredFile, _source


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
