"""Train one group (an ensemble of runs) from its resolved config.json, and write its outputs.

This is what ``trainlens train`` runs for the ``train_group`` rule. Every path comes in as an
argument (Snakemake owns paths); the function builds data, models and RNG streams per member,
trains them together and writes the group's part of runs.parquet and metrics.parquet, its
checkpoints and (optionally) per-step traces.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from trainlens.experiments.train_config import TrainConfig, make_train_config
from trainlens.io import atomic_write, save_npz
from trainlens.losses import LOSSES
from trainlens.members import (  # noqa: F401  (Member, build_member: re-exported for tests)
    PER_MEMBER_TRAIN,
    Member,
    build_member,
    flatten_block,
    load_group_config,
    member_train,
)
from trainlens.models import MODELS
from trainlens.provenance import git_commit
from trainlens.schedule import log_spaced_steps
from trainlens.tables import write_table
from trainlens.training.ensemble import (
    Hook,
    ensemble_forward,
    stack_members,
    stack_splits,
    train_ensemble,
)
from trainlens.training.hooks import BiasTrajectoryHook, CheckpointHook, LossHook, WindowHook
from trainlens.training.job import JobState, finish_job, work_checkpoints
from trainlens.training.recorder import MetricLog


def train_config(config: dict[str, Any], lr: float | None = None) -> TrainConfig:
    """The group's TrainConfig: its shared train block with the first member's lr (and its
    per-member keys, which train_ensemble overrides per member as it does lr)."""
    first = config["members"][0]
    values = {**config["train"], **member_train(first),
              "lr": lr if lr is not None else first["train_lr"]}
    return make_train_config("ensemble", values, f"group {config['group_id']}: train")


def run_row(config: dict[str, Any], run_id: str, seed: int, diverged: int | None,
            wall_time_s: float, device: str, settings: dict[str, Any]) -> dict[str, Any]:
    """One runs.parquet row (docs/design.md "Tables"): identity, status, provenance, settings."""
    return {"run_id": run_id, "paper": config["paper"], "experiment": config["experiment"],
            "group_id": config["group_id"], "seed": seed,
            "status": "ok" if diverged is None else "diverged",
            "diverged_step": np.nan if diverged is None else float(diverged),
            "wall_time_s": wall_time_s, "device": device, "git_commit": git_commit(),
            "ensemble_size": len(config["members"]), **settings}


def _first_bias(config: dict[str, Any], option: str) -> str:
    """The loukas2021 first-layer bias b1 of the group's model, which ``option`` needs."""
    bias_name = MODELS[config["model"]["name"]].first_bias
    if bias_name is None:
        raise ValueError(f"{option} needs a model with a first-layer bias; "
                         f"{config['model']['name']!r} has none")
    return bias_name


def repeat_groups(config: dict[str, Any]) -> list[list[int]]:
    """Indices of the members that are repeats (differ only by seed) of one configuration."""
    groups: dict[str, list[int]] = {}
    for index, member in enumerate(config["members"]):
        groups.setdefault(json.dumps(member["grid"], sort_keys=True), []).append(index)
    return list(groups.values())


def _record_hooks(config: dict[str, Any], train: TrainConfig, members: list[Member],
                  log: MetricLog, total_steps: int
                  ) -> tuple[list[Hook], BiasTrajectoryHook | None]:
    """The hooks the experiment's ``record:`` block asks for (loukas2021's bias trajectory and
    test-loss window), and the trajectory hook itself when there is one (its trace is saved)."""
    record = config.get("record", {})
    hooks: list[Hook] = []
    trajectory_hook = None
    if record.get("bias_trajectory"):
        bias_name = _first_bias(config, "record.bias_trajectory")
        ema_every = max(1, total_steps // record.get("ema_points", 2000))
        official_epsilon = bool(record.get("official_epsilon"))
        if official_epsilon and LOSSES[train.loss].probability is None:
            raise ValueError(f"record.official_epsilon needs a scalar-output loss (mse_half or "
                             f"bce_half), not {train.loss!r}")
        trajectory_hook = BiasTrajectoryHook(
            log, bias_name, repeat_groups(config), ema_every, trace=bool(record.get("trace")),
            official_epsilon=official_epsilon, from_gradient=train.dtype == "float32")
        hooks.append(trajectory_hook)
    if record.get("window"):
        base, _ = stack_members([members[0].model])
        forward = ensemble_forward(base)
        _, _, x_test, y_test = stack_splits([m.split for m in members])
        hooks.append(WindowHook(log, _first_bias(config, "record.window"), int(record["window"]),
                                lambda params: forward(params, x_test), y_test))
    return hooks, trajectory_hook


def train_group(config_path: str | Path, data_root: str | Path, runs_out: str | Path,
                metrics_out: str | Path, checkpoints_dir: str | Path,
                trace_out: str | Path | None = None, device: str = "cpu",
                state_dir: str | Path | None = None, save_interval_s: float = 60.0
                ) -> pd.DataFrame:
    """Train every member of the group in ``config_path``; returns the runs table part.

    With ``state_dir``, the job saves resumable state there (at most every ``save_interval_s``
    seconds) and resumes from it when restarted; checkpoints are kept there too and copied to
    ``checkpoints_dir`` at the end, after which the state is removed.
    """
    config = load_group_config(config_path)
    torch_device = torch.device(device)
    members = [build_member(config, m, Path(data_root), torch_device) for m in config["members"]]
    train = train_config(config)
    n_train = members[0].split.x_train.shape[0]
    steps_per_epoch = train.steps_per_epoch(n_train)
    total_steps = steps_per_epoch * train.epochs
    run_ids = [m.run_id for m in members]
    log = MetricLog(steps_per_epoch)
    hooks: list[Hook] = [
        LossHook(log),
        CheckpointHook(work_checkpoints(state_dir, checkpoints_dir),
                       log_spaced_steps(total_steps, train.checkpoints), run_ids, steps_per_epoch),
    ]
    record_hooks, trajectory_hook = _record_hooks(config, train, members, log, total_steps)
    hooks += record_hooks
    job = JobState(state_dir, save_interval_s, config)
    result = train_ensemble([m.model for m in members], [m.split for m in members], train,
                            [m.order_rng for m in members], hooks, lrs=[m.lr for m in members],
                            job=job, weight_decays=[m.weight_decay for m in members],
                            label_noises=[m.label_noise for m in members],
                            label_noise_keys=[m.label_noise_key for m in members], keep=[log],
                            label=config["group_id"])
    write_table(log.frame(run_ids, result.diverged_step), metrics_out, "metrics")
    if trace_out is not None:
        arrays = trajectory_hook.trace_arrays() if trajectory_hook and trajectory_hook.trace else {}
        atomic_write(trace_out, lambda tmp: save_npz(tmp, run_ids=np.asarray(run_ids), **arrays))
    runs = pd.DataFrame([run_row(config, m.run_id, m.seed, diverged, result.wall_time_s,
                                 str(torch_device), m.row)
                         for m, diverged in zip(members, result.diverged_step)])
    write_table(runs, runs_out, "runs")
    finish_job(state_dir, checkpoints_dir)  # last: until every output is in place, it can resume
    return runs
