"""Provenance recorded beside every result (never hashed into run ids): commit, versions, host."""

from __future__ import annotations

import functools
import platform
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = ("trainlens", "torch", "torchvision", "numpy", "pandas", "scipy", "matplotlib",
            "seaborn", "snakemake")


@functools.cache
def git_commit(root: str | None = None) -> str:
    """HEAD of the repository holding the code, with '-dirty' if tracked files are modified."""
    cwd = root or str(Path(__file__).resolve().parent)
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}-dirty" if dirty else head


@functools.cache
def versions() -> dict[str, str]:
    found = {}
    for package in PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    found["python"] = platform.python_version()
    return found


def provenance() -> dict[str, str]:
    """Commit, host and package versions, as flat strings (for tables and figure metadata)."""
    return {"git_commit": git_commit(), "host": platform.node(),
            **{f"version_{k}": v for k, v in versions().items()}}
