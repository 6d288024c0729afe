"""Train one dherin2022 group (``trainer: regularized``) from its config.json.

The ``trainlens train`` entry for the regularised ensemble (its members are built by
:mod:`trainlens.members.regularized`), with the outputs of every engine: runs.parquet (with
``stop_step``, the matched-loss step of E7/E8),
train_metrics.parquet (the logged GC, losses and norms), stacked checkpoints at step 0 and at
the end (where stopped members hold their matched-loss parameters) and trace.npz (run ids only). A
killed job resumes from its state (the finished sub-ensembles' results, the loop state of the
one in progress).
Members differ by seed and by any foldable key (strengths, lr, label noise, init scheme); each
member's data, init and random streams come from its own seed.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.func import stack_module_state

from trainlens.data.corruption import label_noise_key
from trainlens.experiments.train_config import TrainConfig
from trainlens.io import atomic_write, save_npz
from trainlens.members import Member
from trainlens.members.regularized import (
    build_members,
    member_blocks,
    sub_ensembles,
)
from trainlens.seeds import RunStreams
from trainlens.tables import empty_table, write_table
from trainlens.training.group import run_row
from trainlens.training.job import JobState, finish_job, save_checkpoint, work_checkpoints
from trainlens.training.recorder import MetricLog
from trainlens.training.regularized_loop import MemberStreams, Params, train_regularized
from trainlens.training.stacking import stack_splits


def stack_state(models: list[nn.Module]) -> tuple[nn.Module, Params, Params]:
    """The meta-device base and the stacked, detached parameters and buffers of ``models``
    (BatchNorm running statistics are buffers, which the loukas2021 ensemble never has)."""
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")
    return (base, {k: v.detach().clone() for k, v in params.items()},
            {k: v.detach().clone() for k, v in buffers.items()})


def _train_part(config: dict[str, Any], members: list[Member],
                trains: list[TrainConfig], label: str, checkpoints: Path,
                part: int, job: JobState | None = None) -> dict[str, Any]:
    """Train one sub-ensemble (part ``part`` of the job); its checkpoints are
    step_<step>_<part>.pt. Returns what the job keeps of it: its metric log's state, its
    divergence and stop steps and its wall time."""
    base, params, buffers = stack_state([m.model for m in members])
    x_train, y_train, x_test, y_test = stack_splits([m.split for m in members])
    run_ids = [m.run_id for m in members]
    steps_per_epoch = trains[0].steps_per_epoch(x_train.shape[1])

    def save(step: int, state: dict[str, torch.Tensor]) -> None:
        save_checkpoint(checkpoints, step, step / steps_per_epoch, run_ids, state, part)

    streams = [MemberStreams(m.order_rng, *(RunStreams(m.seed).torch(name)
                                            for name in ("noise", "probes", "spectral")),
                             label_noise=label_noise_key(RunStreams(m.seed).seed_sequence("label_noise")))
               for m in members]
    result = train_regularized(base, params, buffers, x_train, y_train, x_test, y_test, trains,
                               streams, label, save, job, part)
    return {"log": result.log.state_dict(), "steps_per_epoch": result.log.steps_per_epoch,
            "diverged": result.diverged_step, "stopped": result.stop_step,
            "wall_time_s": result.wall_time_s, "device": str(x_train.device)}


def _part_tables(config: dict[str, Any], members: list[Member], done: dict[str, Any]
                 ) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """A finished part's metrics and runs rows."""
    log = MetricLog(done["steps_per_epoch"])
    log.load_state_dict(done["log"])
    rows = []
    for m, diverged, stopped in zip(members, done["diverged"], done["stopped"]):
        settings = {**m.row, "stop_step": np.nan if stopped is None else float(stopped),
                    "reached_target": stopped is not None}
        rows.append(run_row(config, m.run_id, m.seed, diverged, done["wall_time_s"],
                            done["device"], settings))
    return log.frame([m.run_id for m in members], done["diverged"]), rows


def train_regularized_group(config_path: str | Path, data_root: str | Path,
                            runs_out: str | Path, metrics_out: str | Path,
                            checkpoints_dir: str | Path, trace_out: str | Path | None = None,
                            device: str = "cpu", state_dir: str | Path | None = None,
                            save_interval_s: float = 60.0) -> pd.DataFrame:
    """Train every member of the group in ``config_path``, one sub-ensemble at a time; returns
    the runs table. With ``state_dir``, the job saves its state there (at most every
    ``save_interval_s`` seconds) and resumes from it when restarted."""
    with open(config_path) as handle:
        config = json.load(handle)
    members = build_members(config, data_root, device)
    trains = [member_blocks(config, m)[2] for m in config["members"]]
    checkpoints = work_checkpoints(state_dir, checkpoints_dir)
    checkpoints.mkdir(parents=True, exist_ok=True)
    job = JobState(state_dir, save_interval_s, config)
    parts = sub_ensembles(config)
    logged, rows = [], []
    for number, part in enumerate(parts):
        label = config["group_id"] + (f" part {number + 1}/{len(parts)}" if len(parts) > 1 else "")
        if number >= len(job.done):
            job.finish_part(_train_part(config, [members[i] for i in part],
                                        [trains[i] for i in part], label, checkpoints, number,
                                        job))
        frame, part_rows = _part_tables(config, [members[i] for i in part], job.done[number])
        logged.append(frame)
        rows += part_rows
    logged = [f for f in logged if len(f)]
    write_table(pd.concat(logged, ignore_index=True) if logged else empty_table("metrics"),
                metrics_out, "metrics")
    if trace_out is not None:
        run_ids = np.asarray([m.run_id for m in members])
        atomic_write(trace_out, lambda tmp: save_npz(tmp, run_ids=run_ids))
    order = {m.run_id: i for i, m in enumerate(members)}
    runs = pd.DataFrame(sorted(rows, key=lambda r: order[r["run_id"]]))
    write_table(runs, runs_out, "runs")
    finish_job(state_dir, checkpoints_dir)  # last: until every output is in place, it can resume
    return runs
