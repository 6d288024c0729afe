"""Case: 16 loukas2021 E1a MLP members at batch size 1, float64, on the runner's device (the
target, >= 10x, is set for the CPU).

Baseline: the 16 runs one after another with plain ``torch.optim.SGD`` (how the official code
trains, ``trainlens.training.reference.train_alone``). trainlens: one ensemble of the 16 (eager:
one batched forward and one backward pass a step; compiled: ``vmap(grad)`` fused by
``torch.compile``, as paper scale uses it). Same data, init and order streams.
Steady-state time per step is measured after a warm-up; compile time is reported on its own.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from pathlib import Path

import torch

from benchmarks.timing import CPU, synchronize, threads_or_device
from trainlens.experiments.loading import load_experiments
from trainlens.training.ensemble import train_ensemble
from trainlens.training.group import build_member, train_config
from trainlens.training.reference import train_alone

REPO = Path(__file__).resolve().parents[1]
MEMBERS = 16


def _members(epochs: int, device: torch.device):
    (group,) = [g for g in load_experiments(REPO / "experiments" / "loukas2021.yaml", "smoke")
                if g.experiment == "e1a"]
    config = dict(group.config)
    # 16 members: the 12 E1a smoke runs plus 4 more seeds of f = 0.5
    extra = [{**m, "seed": m["seed"] + 10, "run_id": m["run_id"] + "x"}
             for m in config["members"][3:7]]
    config["members"] = config["members"] + extra
    members = [build_member(config, m, Path("data"), device)
               for m in config["members"][:MEMBERS]]
    train = dataclasses.replace(train_config(config), epochs=epochs)
    return members, train


def _ensemble_seconds(epochs: int, compile: bool, device: torch.device) -> float:
    members, train = _members(epochs, device)
    train = dataclasses.replace(train, compile=compile)
    synchronize(device)
    start = time.perf_counter()
    train_ensemble([copy.deepcopy(m.model) for m in members], [m.split for m in members], train,
                   [m.order_rng for m in members], lrs=[m.lr for m in members])
    synchronize(device)
    return time.perf_counter() - start


def _sequential_seconds(epochs: int, device: torch.device) -> float:
    members, train = _members(epochs, device)
    synchronize(device)
    start = time.perf_counter()
    for m in members:
        train_alone(m.model, m.split, train, m.order_rng, m.lr)
    synchronize(device)
    return time.perf_counter() - start


def run(quick: bool = False, device: torch.device = CPU) -> list[dict]:
    """Per-step steady state from the difference of a short and a long run (removes warm-up and
    compile time, which is reported separately)."""
    torch.set_num_threads(1)
    short, long = (5, 25) if quick else (10, 60)
    steps = (long - short) * 30  # 30 training points per member
    sequential = (_sequential_seconds(long, device) - _sequential_seconds(short, device)) / steps
    rows = []
    for label, compile in (("eager", False), ("compiled", True)):
        first = _ensemble_seconds(short, compile, device)
        per_step = (_ensemble_seconds(long, compile, device)
                    - _ensemble_seconds(short, compile, device)) / steps
        overhead = first - per_step * short * 30
        rows.append({
            "case": f"ensemble of 16 at bs 1, {label} (per step)",
            "baseline_s": sequential * 1, "trainlens_s": per_step,
            "ratio": sequential / per_step, "target": 10.0,
            "note": f"one-off warm-up/compile {overhead:.1f} s (warm compile cache); "
                    f"{threads_or_device(device)}",
        })
    return rows
