"""Determinism on the device: one group of each training engine, trained twice, each time in a
fresh process with ``deterministic: true`` (as ``trainlens train --deterministic``: the cuBLAS
workspace fixed before CUDA starts, ``torch.use_deterministic_algorithms(True)``, no cuDNN
autotuning), and the two runs' tables and checkpoints compared value by value: bitwise, or the
largest absolute difference.

The groups are paper-scale groups shortened (``shorten``): loukas2021 E1b (the CIFAR CNN at
batch size 1, ``ensemble``), dherin2022 E2 (ResNet-18 with BatchNorm on CIFAR-10,
``regularized``) and nakazato2024 E1 (``two_layer``, always the CPU). Image sets without a
verified copy are random stand-ins (``benchmarks.stand_in``).

The child entry, ``python -m benchmarks.determinism --config C --out DIR --device D``, trains
one group; the parent (:func:`run`) starts it twice per group and compares.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
# (paper, experiment): the first group of each at paper scale
GROUPS = (("loukas2021", "e1b"), ("dherin2022", "e2"), ("nakazato2024", "e1"))
CHILD_TIMEOUT_S = 300  # one short training run; a hung child must not eat the device time


def shorten(config: dict[str, Any], tiny: bool) -> dict[str, Any]:
    """A short version of a paper-scale group: the first 4 members, ``tiny_slice``'s caps with
    ``tiny`` (a CPU test), else the full-width models on a few hundred images, one epoch or 20
    steps, eager (a cold compile would cost more than the run)."""
    from benchmarks.stand_in import cap_data
    from trainlens.experiments.slicing import tiny_slice

    config = {**config, "members": config["members"][:4]}
    if tiny or config.get("trainer") == "two_layer":
        return tiny_slice(config)
    if config.get("trainer") == "regularized":
        out = cap_data(config, 256, 128)
        for train in [out["train"]] + [m["train"] for m in out["members"]]:
            train.update(steps=20, log_every=10, check_every=5, log_subset=64)
        return out
    out = cap_data(config, 128, config["train"]["batch_size"])
    out["train"] = {**out["train"], "epochs": 1, "compile": False, "checkpoints": 2}
    return out


def _child(config_path: Path, out: Path, device: str, data_root: Path) -> None:
    """Train one group deterministically (the flags must precede CUDA's start)."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    import torch

    from benchmarks.stand_in import stand_in_data
    from trainlens.devices import select_device
    from trainlens.experiments.trainers import TRAINERS

    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    torch.set_num_threads(1)
    config = json.loads(config_path.read_text())
    engine = TRAINERS[config.get("trainer", "ensemble")]
    device = str(select_device(device)) if engine.uses_device else "cpu"
    module, name = engine.train.split(":")
    train = getattr(importlib.import_module(module), name)
    used: set[str] = set()
    with stand_in_data(data_root, used):
        train(config_path, data_root, out / "runs.parquet", out / "metrics.parquet",
              out / "checkpoints", None, device)
    (out / "stand_in.json").write_text(json.dumps(sorted(used)))


def _values(directory: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The metric values in a fixed row order, and every checkpoint tensor by file and name."""
    import pandas as pd
    import torch

    metrics = pd.read_parquet(directory / "metrics.parquet")
    metrics = metrics.sort_values(["run_id", "step", "split", "metric"], kind="stable")
    tensors = {}
    for path in sorted((directory / "checkpoints").glob("*.pt")):
        saved = torch.load(path, map_location="cpu", weights_only=True)
        for key, value in saved["params"].items():
            tensors[f"{path.name}:{key}"] = value.double().numpy()
    return metrics["value"].to_numpy(dtype=float), tensors


def compare(a: np.ndarray, b: np.ndarray) -> tuple[bool, float]:
    """(bitwise equal, largest absolute difference; NaN where both are NaN counts as 0)."""
    if a.shape != b.shape:
        return False, float("inf")
    bitwise = a.tobytes() == b.tobytes()
    both_nan = np.isnan(a) & np.isnan(b)
    difference = np.where(both_nan, 0.0, np.abs(a - b))
    return bitwise, float(np.nanmax(difference, initial=0.0)) if difference.size else 0.0


def _train_twice(config: dict[str, Any], device: str, data_root: Path, work: Path
                 ) -> tuple[list[Path], list[float], str]:
    (work / "config.json").write_text(json.dumps(config))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    outs, seconds = [], []
    for attempt in ("a", "b"):
        out = work / attempt
        out.mkdir()
        command = [sys.executable, "-m", "benchmarks.determinism", "--config",
                   str(work / "config.json"), "--out", str(out), "--device", device,
                   "--data-root", str(data_root)]
        start = time.perf_counter()
        try:
            done = subprocess.run(command, env=env, capture_output=True, text=True,
                                  timeout=CHILD_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return outs, seconds, f"a run took over {CHILD_TIMEOUT_S} s"
        seconds.append(time.perf_counter() - start)
        if done.returncode != 0:
            return outs, seconds, done.stderr.strip().splitlines()[-1] if done.stderr else "failed"
        outs.append(out)
    return outs, seconds, ""


def run(device: str, data_root: Path, tiny: bool = False) -> list[dict[str, Any]]:
    """One row per engine: both runs' metric values and checkpoint tensors compared."""
    from trainlens.experiments.loading import load_experiments

    rows = []
    for paper, experiment in GROUPS:
        group = next(g for g in load_experiments(REPO / "experiments" / f"{paper}.yaml", "paper")
                     if g.experiment == experiment)
        config = shorten(group.config, tiny)
        row = {"paper": paper, "experiment": experiment,
               "engine": config.get("trainer", "ensemble"), "members": len(config["members"])}
        with tempfile.TemporaryDirectory() as tmp:
            outs, seconds, error = _train_twice(config, device, data_root, Path(tmp))
            row["run_s"] = ", ".join(f"{s:.1f}" for s in seconds)
            if error:
                rows.append({**row, "error": error})
                continue
            (values_a, tensors_a), (values_b, tensors_b) = _values(outs[0]), _values(outs[1])
            row["stand_in"] = ", ".join(json.loads((outs[0] / "stand_in.json").read_text()))
        row["metric_values"] = len(values_a)
        row["metrics_bitwise"], row["metrics_max_abs_diff"] = compare(values_a, values_b)
        same_keys = tensors_a.keys() == tensors_b.keys()
        pairs = [compare(tensors_a[k], tensors_b[k]) for k in tensors_a] if same_keys else []
        row["checkpoint_tensors"] = len(tensors_a)
        row["checkpoints_bitwise"] = same_keys and all(p[0] for p in pairs)
        row["checkpoints_max_abs_diff"] = max((p[1] for p in pairs), default=0.0) \
            if same_keys else float("inf")
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description="train one group deterministically (child)")
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data-root", default=Path("data"), type=Path)
    args = parser.parse_args()
    _child(args.config, args.out, args.device, args.data_root)


if __name__ == "__main__":
    main()
