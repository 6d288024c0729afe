"""The smoke workflow through SLURM (snakemake-executor-plugin-slurm and profiles/slurm) on a
one-node cluster on localhost builds exactly what a local run builds (figures/all, sha256)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CLUSTER = REPO / "tests" / "workflow" / "local_slurm.sh"
WORKFLOW_FILES = ("Snakefile", "rules", "experiments", "analysis", "envs", "profiles", "report")


def _workflow_copy(target: Path) -> Path:
    target.mkdir()
    for name in WORKFLOW_FILES:
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, target / name)
    return target


def _snakemake(cwd: Path, *args: str, timeout: int) -> subprocess.CompletedProcess:
    # Jobs are submitted with --export=ALL: the environment's PATH must reach `trainlens`.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    return subprocess.run(["timeout", "-k", "10", str(timeout), sys.executable, "-m",
                           "snakemake", *args], cwd=cwd, env=env, capture_output=True,
                          text=True)


@pytest.mark.slow
def test_smoke_workflow_through_slurm_matches_a_local_run(tmp_path):
    subprocess.run(["bash", str(CLUSTER), "install"], check=True)
    local = _workflow_copy(tmp_path / "local")
    done = _snakemake(local, "--cores", "2", "figures/all", timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]

    cluster = _workflow_copy(tmp_path / "cluster")
    # munged needs every folder above its socket traversable by all (pytest's tmp is 0700)
    state = Path(tempfile.mkdtemp(prefix="trainlens-slurm-", dir="/tmp"))
    state.chmod(0o755)
    subprocess.run(["bash", str(CLUSTER), "start", str(state)], check=True)
    try:
        done = _snakemake(cluster, "--profile", "profiles/slurm", "--jobs", "2",
                          "--slurm-init-seconds-before-status-checks", "2", "figures/all",
                          timeout=1200)
    finally:
        subprocess.run(["bash", str(CLUSTER), "stop", str(state)], check=True)
        shutil.rmtree(state, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-5000:]
    log = done.stdout + done.stderr
    assert "Job" in log and "submitted" in log.lower()  # the jobs really went through sbatch
    local_manifest = (local / "figures" / "all").read_text()
    assert (cluster / "figures" / "all").read_text() == local_manifest
    assert len(local_manifest.splitlines()) > 10
