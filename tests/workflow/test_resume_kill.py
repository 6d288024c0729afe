"""A training job killed with SIGKILL at 10 random points and restarted each time ends with
tables, trace and checkpoints bitwise identical to an uninterrupted run (CPU), whatever its step:
the plain-SGD ensemble (loukas2021 E1a), the regularized ensemble trained in parts with a
target-loss stop (dherin2022 E8) and the closed-form two-layer step with the two-time kick, one
part per activation (nakazato2024 E3).

Each case is sized to just outlast the kills on 2 idle cores (asserted): an attempt trains until
its first save and at most 1.5 s more, so a job needs about 10 x (a save's interval + 1.5 s) of
training after start-up. The uninterrupted run saves only at the end: states grow with the
metric log and the trace, and saving after every epoch of a long run is what made the first
version of this test take 10 minutes.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from trainlens.experiments.loading import load_experiments

KILLS = 10
REPO = Path(__file__).resolve().parents[2]


def _command(config: Path, out: Path, interval: str) -> list[str]:
    return [shutil.which("trainlens") or "trainlens", "train", "--config", str(config),
            "--runs", str(out / "runs.parquet"), "--metrics", str(out / "metrics.parquet"),
            "--checkpoints", str(out / "checkpoints"), "--trace", str(out / "trace.npz"),
            "--state-dir", str(out / ".train_state"), "--save-interval", interval]


def _group(paper: str, experiment: str) -> dict:
    (group,) = [g for g in load_experiments(REPO / "experiments" / f"{paper}.yaml", "smoke")
                if g.experiment == experiment]
    return group.config


def _ensemble() -> dict:
    # 4 members at B = 1 with the bias-trajectory trace, 100 epochs (about 70 s straight on 2
    # busy cores)
    config = _group("loukas2021", "e1a")
    return {**config, "members": config["members"][::3],
            "train": {**config["train"], "epochs": 100}}


def _regularized() -> dict:
    # six parts of 3 members (SGD at B = 5, target-loss checks every 10 steps: members stop
    # after about 2000 steps and leave the vmapped state; a part ends when its last one stops;
    # about 60 s straight on 2 busy cores)
    config = _group("dherin2022", "e8")
    members = [{**m, "train": {**m["train"], "steps": 3000, "target_loss": 0.003}}
               for m in config["members"]]
    return {**config, "members": members}


def _two_layer() -> dict:
    # two activations (parts), each its runs and their kicked copies for 1000 + 12000 steps
    # (about 50 s straight on 2 busy cores)
    config = _group("nakazato2024", "e3")
    return {**config, "record": {"two_time": {**config["record"]["two_time"], "tau_max": 12000}}}


def _kill_repeatedly(path: Path, killed: Path) -> int:
    """Start the job and SIGKILL it KILLS times, each time after its first save and a random
    0-1.5 s more (mid-step or mid-save); the number of kills made."""
    draw = random.Random(20261123)
    state = killed / ".train_state" / "state.pt"
    kills = 0
    for _ in range(KILLS):
        before = state.stat().st_mtime_ns if state.exists() else 0
        job = subprocess.Popen(_command(path, killed, "0.2"), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while job.poll() is None and time.monotonic() < deadline and (
                not state.exists() or state.stat().st_mtime_ns == before):
            time.sleep(0.02)
        time.sleep(draw.uniform(0.0, 1.5))
        if job.poll() is None:
            job.kill()  # SIGKILL: no cleanup runs
            kills += 1
        job.wait()
    return kills


def _assert_same_outputs(straight: Path, killed: Path) -> None:
    provenance = ["wall_time_s", "git_commit"]  # a commit may land while the test runs
    for table in ("metrics.parquet", "runs.parquet"):
        a, b = pd.read_parquet(straight / table), pd.read_parquet(killed / table)
        a, b = a.drop(columns=provenance, errors="ignore"), b.drop(columns=provenance,
                                                                    errors="ignore")
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    trace_a, trace_b = np.load(straight / "trace.npz"), np.load(killed / "trace.npz")
    assert trace_a.files == trace_b.files
    for key in trace_a.files:
        numeric = trace_a[key].dtype.kind == "f"
        assert np.array_equal(trace_a[key], trace_b[key], equal_nan=numeric), key
    files_a = sorted(p.name for p in (straight / "checkpoints").iterdir())
    assert files_a and files_a == sorted(p.name for p in (killed / "checkpoints").iterdir())
    for name in files_a:
        ca = torch.load(straight / "checkpoints" / name, weights_only=True)
        cb = torch.load(killed / "checkpoints" / name, weights_only=True)
        assert ca["params"].keys() == cb["params"].keys()
        assert all(torch.equal(ca["params"][k], cb["params"][k]) for k in ca["params"])


@pytest.mark.slow
@pytest.mark.parametrize("make_config", [_ensemble, _regularized, _two_layer],
                         ids=["ensemble", "regularized", "two_layer"])
def test_sigkill_at_random_points_then_resume_gives_identical_outputs(tmp_path, make_config):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(make_config()))
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    straight.mkdir()
    killed.mkdir()
    subprocess.run(_command(path, straight, "3600"), check=True, capture_output=True,
                   timeout=600)

    assert _kill_repeatedly(path, killed) == KILLS, "the job finished before a kill: lengthen it"
    assert not (killed / "runs.parquet").exists()
    done = subprocess.run(_command(path, killed, "0.2"), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert "resuming from" in done.stderr
    _assert_same_outputs(straight, killed)
    assert not (killed / ".train_state").exists()
