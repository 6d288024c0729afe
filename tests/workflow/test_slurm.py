"""Training groups built through SLURM (snakemake-executor-plugin-slurm and profiles/slurm) on a
one-node cluster on localhost give exactly the tables a local run gives.

Two nakazato2024 training groups, the cheapest of the smoke build, go through sbatch (each
group's train and measure as one grouped SLURM job, two at once); resolving runs as a localrule
on the submitting host. Their tables must equal, bitwise, those of the session's local smoke
build of every paper (the ``smoke_build`` fixture), whose figures are drawn from such tables by
the end-to-end test: one local build serves both tests.
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
CLUSTER_EXPERIMENTS = ("e2", "e3")  # seconds each; e1 alone takes minutes


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
def test_training_groups_through_slurm_match_a_local_run(tmp_path, smoke_build):
    subprocess.run(["bash", str(CLUSTER), "install"], check=True)
    local, done = smoke_build
    assert done.returncode == 0, done.stderr[-3000:]

    cluster = _workflow_copy(tmp_path / "cluster")
    built = local / "results" / "smoke" / CLUSTER_PAPER / "groups"
    groups = sorted(p.name for p in built.iterdir()
                    if p.name.rsplit("-", 1)[0] in CLUSTER_EXPERIMENTS)
    assert len(groups) == len(CLUSTER_EXPERIMENTS)
    targets = [f"results/smoke/{CLUSTER_PAPER}/groups/{g}/probe_metrics.parquet" for g in groups]
    # munged needs every folder above its socket traversable by all (pytest's tmp is 0700)
    state = Path(tempfile.mkdtemp(prefix="trainlens-slurm-", dir="/tmp"))
    state.chmod(0o755)
    subprocess.run(["bash", str(CLUSTER), "start", str(state)], check=True)
    try:
        done = _snakemake(cluster, "--profile", "profiles/slurm", "--jobs", "2",
                          "--slurm-init-seconds-before-status-checks", "2", *targets,
                          "--config", f"papers=[{CLUSTER_PAPER}]", timeout=900)
    finally:
        subprocess.run(["bash", str(CLUSTER), "stop", str(state)], check=True)
        shutil.rmtree(state, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-5000:]
    log = done.stdout + done.stderr
    assert log.lower().count("submitted") >= len(groups)  # the jobs really went through sbatch
    for group in groups:
        folder = Path("results") / "smoke" / CLUSTER_PAPER / "groups" / group
        for table in ("runs.parquet", "train_metrics.parquet", "probe_metrics.parquet"):
            on_cluster, here = (pd.read_parquet(root / folder / table).drop(
                columns="wall_time_s", errors="ignore") for root in (cluster, local))
            pd.testing.assert_frame_equal(on_cluster, here, check_exact=True)
        assert len(pd.read_parquet(local / folder / "runs.parquet")) > 0 and sum(
            len(pd.read_parquet(local / folder / t))
            for t in ("train_metrics.parquet", "probe_metrics.parquet")) > 0
