"""Atomic file writes: write to a temporary file beside the target, then rename.

A rename within one directory is atomic on POSIX, so no later job (or a user looking at the
results) can ever read a half-written table, checkpoint or figure.

torch is imported only by the functions that need it: figure, claim and report jobs write
through this module, and importing torch costs them seconds each.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path in the target's directory; rename it onto ``target`` on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(target: str | Path, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp_path)`` and move the result onto ``target``."""
    with atomic_path(target) as tmp:
        write(tmp)
    return Path(target)


def atomic_torch_save(obj: Any, target: str | Path) -> Path:
    """``torch.save`` atomically. Store plain dicts of tensors and Python numbers only, so that
    ``torch.load(weights_only=True)`` reads them back."""
    import torch

    return atomic_write(target, lambda tmp: torch.save(obj, tmp))


def atomic_write_text(target: str | Path, text: str) -> Path:
    return atomic_write(target, lambda tmp: tmp.write_text(text))


def write_json(target: str | Path, obj: Any) -> Path:
    return atomic_write_text(target, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def save_npz(path: Path, **arrays: Any) -> None:
    """``np.savez_compressed`` to exactly ``path`` (given a name, NumPy would append .npz)."""
    import numpy as np

    with open(path, "wb") as handle:
        np.savez_compressed(handle, **arrays)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by the suite (tensors, numbers, strings only)."""
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)
