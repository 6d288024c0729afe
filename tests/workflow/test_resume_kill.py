"""A training job killed with SIGKILL at 10 random points and restarted each time ends with
tables and checkpoints bitwise identical to an uninterrupted run (CPU)."""

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

KILLS = 10


def _command(config: Path, out: Path) -> list[str]:
    return [shutil.which("trainlens") or "trainlens", "train", "--config", str(config),
            "--runs", str(out / "runs.parquet"), "--metrics", str(out / "metrics.parquet"),
            "--checkpoints", str(out / "checkpoints"), "--trace", str(out / "trace.npz"),
            "--state-dir", str(out / ".train_state"), "--save-interval", "0"]


@pytest.mark.slow
def test_sigkill_at_random_points_then_resume_gives_identical_tables(tmp_path, e1a_smoke_config):
    # 1000 epochs (about 30 s straight on 2 cores) outlast the 10 kills, each up to 1.5 s of
    # training after a save (asserted below); 250 epochs took 7 s once the eager step got faster
    config = {**e1a_smoke_config, "members": e1a_smoke_config["members"][::3],
              "train": {**e1a_smoke_config["train"], "epochs": 1000}}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    straight.mkdir()
    killed.mkdir()
    subprocess.run(_command(path, straight), check=True, capture_output=True, timeout=600)

    draw = random.Random(20261123)
    state = killed / ".train_state" / "state.pt"
    kills = 0
    for _ in range(KILLS):
        before = state.stat().st_mtime_ns if state.exists() else 0
        job = subprocess.Popen(_command(path, killed), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        # wait until this attempt has trained and saved at least once, then kill at a random
        # moment (mid-epoch or mid-save) within the next 1.5 s
        while job.poll() is None and time.monotonic() < deadline and (
                not state.exists() or state.stat().st_mtime_ns == before):
            time.sleep(0.02)
        time.sleep(draw.uniform(0.0, 1.5))
        if job.poll() is None:
            job.kill()  # SIGKILL: no cleanup runs
            kills += 1
        job.wait()
    assert kills == KILLS, "the job finished before a kill: lengthen the run"
    assert not (killed / "runs.parquet").exists()
    done = subprocess.run(_command(path, killed), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "resuming from" in done.stderr

    for table in ("metrics.parquet", "runs.parquet"):
        a, b = pd.read_parquet(straight / table), pd.read_parquet(killed / table)
        a, b = a.drop(columns="wall_time_s", errors="ignore"), b.drop(columns="wall_time_s",
                                                                       errors="ignore")
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    trace_a, trace_b = np.load(straight / "trace.npz"), np.load(killed / "trace.npz")
    for key in trace_a.files:
        numeric = trace_a[key].dtype.kind == "f"
        assert np.array_equal(trace_a[key], trace_b[key], equal_nan=numeric), key
    files_a = sorted(p.name for p in (straight / "checkpoints").iterdir())
    assert files_a == sorted(p.name for p in (killed / "checkpoints").iterdir())
    for name in files_a:
        ca = torch.load(straight / "checkpoints" / name, weights_only=True)
        cb = torch.load(killed / "checkpoints" / name, weights_only=True)
        assert all(torch.equal(ca["params"][k], cb["params"][k]) for k in ca["params"])
    assert not (killed / ".train_state").exists()
