"""A smoke build through SLURM (snakemake-executor-plugin-slurm and profiles/slurm) on a
one-node cluster on localhost builds exactly what a local run builds (figures/all, sha256).

The cluster builds nakazato2024, the paper with the cheapest smoke build: its training groups
(train and measure, one grouped SLURM job each) go through sbatch, the localrules (bookkeeping,
figures, claims, report) run on the submitting host. Its files must equal the nakazato2024 files
of the session's local smoke build of every paper (the ``smoke_build`` fixture): one local build
serves two tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
CLUSTER = REPO / "tests" / "workflow" / "local_slurm.sh"
WORKFLOW_FILES = ("Snakefile", "rules", "experiments", "analysis", "envs", "profiles", "report")
CLUSTER_PAPER = "nakazato2024"


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
def test_smoke_workflow_through_slurm_matches_a_local_run(tmp_path, smoke_build):
    subprocess.run(["bash", str(CLUSTER), "install"], check=True)
    local, done = smoke_build
    assert done.returncode == 0, done.stderr[-3000:]

    cluster = _workflow_copy(tmp_path / "cluster")
    # munged needs every folder above its socket traversable by all (pytest's tmp is 0700)
    state = Path(tempfile.mkdtemp(prefix="trainlens-slurm-", dir="/tmp"))
    state.chmod(0o755)
    subprocess.run(["bash", str(CLUSTER), "start", str(state)], check=True)
    try:
        done = _snakemake(cluster, "--profile", "profiles/slurm", "--jobs", "2",
                          "--slurm-init-seconds-before-status-checks", "2", "figures/all",
                          "--config", f"papers=[{CLUSTER_PAPER}]", timeout=1200)
    finally:
        subprocess.run(["bash", str(CLUSTER), "stop", str(state)], check=True)
        shutil.rmtree(state, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-5000:]
    log = done.stdout + done.stderr
    assert "Job" in log and "submitted" in log.lower()  # the jobs really went through sbatch
    read = lambda root: pd.read_csv(root / "figures" / "all", sep="\t")  # noqa: E731
    on_cluster = read(cluster)
    local_files = read(local)
    local_files = local_files[local_files["path"].str.startswith(f"figures/{CLUSTER_PAPER}/")]
    assert len(on_cluster) == len(local_files) > 10
    pd.testing.assert_frame_equal(on_cluster.sort_values("path").reset_index(drop=True),
                                  local_files.sort_values("path").reset_index(drop=True))
