"""The smoke workflow, built once per test session: the end-to-end test checks it and the SLURM
test compares a cluster build against it (one local build instead of two saves CI minutes)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from test_workflow import REPO, WORKFLOW_FILES, snakemake


@pytest.fixture(scope="session")
def smoke_build(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """``snakemake --cores 2 figures/all`` (every paper, smoke scale) in a fresh copy of the
    workflow; returns the folder and the finished process (tests assert on its return code)."""
    root = tmp_path_factory.mktemp("smoke_build")
    for name in WORKFLOW_FILES:
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, root / name)
    # 16 min on 2 cores with compiled bytecode (2026-12-02 21:50 UTC; 19 to 32 min before); the
    # limit only stops a hung build
    return root, snakemake("--cores", "2", "figures/all", cwd=root, timeout=2700)
