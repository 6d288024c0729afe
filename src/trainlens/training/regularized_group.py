"""Train and measure one dherin2022 group (``trainer: regularized``) from its config.json.

The ``trainlens train`` and ``trainlens measure`` entries for the regularised ensemble, with the
outputs of every engine: runs.parquet (with ``stop_step``, the matched-loss step of E7/E8),
train_metrics.parquet (the logged GC, losses and norms), stacked checkpoints at step 0 and at
the end (where stopped members hold their matched-loss parameters) and trace.npz (run ids only).
Members differ by seed and by any foldable key (strengths, lr, label noise, init scheme); each
member's data, init and random streams come from its own seed.
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.func import stack_module_state

from trainlens.config import make_dataclass_config
from trainlens.data import DATASETS
from trainlens.io import atomic_torch_save, atomic_write, save_npz
from trainlens.measure import measure_group
from trainlens.models import MODELS
from trainlens.tables import write_table
from trainlens.training.ensemble import DTYPES, stack_splits
from trainlens.training.group import Member, flatten_block, run_row
from trainlens.training.regularized import RegularizedTrainConfig
from trainlens.training.regularized_loop import MemberStreams, Params, train_regularized
from trainlens.training.seeds import RunStreams

# Keys every member of a group must share: the loop runs them once for all members.
SHARED_TRAIN_KEYS = ("loss", "optimizer", "steps", "batch_size", "gc_projections", "target_loss",
                     "check_every", "log_every", "log_subset", "dtype")


def member_blocks(config: dict[str, Any], member: dict[str, Any]) -> tuple[Any, Any, Any]:
    """The validated data, model and train blocks of one member."""
    where = f"group {config['group_id']} member {member['run_id']}"
    data_spec, model_spec = DATASETS[member["data"]["name"]], MODELS[member["model"]["name"]]
    return (make_dataclass_config(data_spec.config_cls, member["data"], f"{where}: data"),
            make_dataclass_config(model_spec.config_cls, member["model"], f"{where}: model"),
            make_dataclass_config(RegularizedTrainConfig, member["train"], f"{where}: train"))


def build_members(config: dict[str, Any], data_root: str | Path, device: str | torch.device
                  ) -> list[Member]:
    """Every member's data (from its "data" stream: label noise is fixed per seed) and initial
    model (from its "init" stream, on the CPU, so that the init is the same on any device)."""
    members = []
    for member in config["members"]:
        data, model, train = member_blocks(config, member)
        streams = RunStreams(member["seed"])
        dtype = DTYPES[train.dtype]
        split = DATASETS[data.name].load(data, streams.numpy("data"), Path(data_root))
        net = MODELS[model.name].build(model, streams.torch("init")).to(device, dtype)
        row = {**flatten_block("data", asdict(data)), **flatten_block("model", asdict(model)),
               **flatten_block("train", asdict(train))}
        members.append(Member(member["run_id"], member["seed"], train.lr, net,
                              split.to(device, dtype), streams.numpy("order"), row))
    return members


def stack_state(models: list[nn.Module]) -> tuple[nn.Module, Params, Params]:
    """The meta-device base and the stacked, detached parameters and buffers of ``models``
    (BatchNorm running statistics are buffers, which the loukas2021 ensemble never has)."""
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")
    return (base, {k: v.detach().clone() for k, v in params.items()},
            {k: v.detach().clone() for k, v in buffers.items()})


def _check_shared(config: dict[str, Any]) -> list[RegularizedTrainConfig]:
    trains = [member_blocks(config, m)[2] for m in config["members"]]
    for key in SHARED_TRAIN_KEYS:
        values = {getattr(t, key) for t in trains}
        if len(values) > 1:
            raise ValueError(f"group {config['group_id']}: train.{key} differs between members "
                             f"({sorted(map(str, values))}); it cannot be in ensemble_over")
    return trains


def train_regularized_group(config_path: str | Path, data_root: str | Path,
                            runs_out: str | Path, metrics_out: str | Path,
                            checkpoints_dir: str | Path, trace_out: str | Path | None = None,
                            device: str = "cpu", state_dir: str | Path | None = None,
                            save_interval_s: float = 60.0) -> pd.DataFrame:
    """Train every member of the group in ``config_path`` together; returns the runs table.
    ``state_dir``/``save_interval_s`` are accepted for the common entry point; these jobs are
    short at smoke scale and restart from the beginning if killed."""
    with open(config_path) as handle:
        config = json.load(handle)
    trains = _check_shared(config)
    members = build_members(config, data_root, device)
    base, params, buffers = stack_state([m.model for m in members])
    x_train, y_train, x_test, y_test = stack_splits([m.split for m in members])
    run_ids = [m.run_id for m in members]
    checkpoints = Path(checkpoints_dir)
    checkpoints.mkdir(parents=True, exist_ok=True)
    steps_per_epoch = max(1, -(-x_train.shape[1] // trains[0].batch_size)
                          if trains[0].batch_size else 1)

    def save(step: int, state: dict[str, torch.Tensor]) -> None:
        atomic_torch_save({"step": step, "epoch": step / steps_per_epoch, "run_ids": run_ids,
                           "params": {k: v.detach().cpu().clone() for k, v in state.items()}},
                          checkpoints / f"step_{step:09d}.pt")

    streams = [MemberStreams(m.order_rng, *(RunStreams(m.seed).torch(name)
                                            for name in ("noise", "probes", "spectral")))
               for m in members]
    result = train_regularized(base, params, buffers, x_train, y_train, x_test, y_test, trains,
                               streams, config["group_id"], save)
    result.log.steps_per_epoch = steps_per_epoch
    write_table(result.log.frame(run_ids, result.diverged_step), metrics_out, "metrics")
    if trace_out is not None:
        atomic_write(trace_out, lambda tmp: save_npz(tmp, run_ids=np.asarray(run_ids)))
    rows = []
    for m, diverged, stopped in zip(members, result.diverged_step, result.stop_step):
        settings = {**m.row, "stop_step": np.nan if stopped is None else float(stopped),
                    "reached_target": stopped is not None}
        rows.append(run_row(config, m.run_id, m.seed, diverged, result.wall_time_s, str(device),
                            settings))
    runs = pd.DataFrame(rows)
    write_table(runs, runs_out, "runs")
    return runs


def measure_regularized_group(config_path: str | Path, checkpoints_dir: str | Path,
                              data_root: str | Path, out: str | Path,
                              regions_out: str | Path | None = None,
                              device: str = "cpu") -> pd.DataFrame:
    """The experiment's probes (``probes: [geometric_complexity]``) on every checkpoint."""
    return measure_group(config_path, checkpoints_dir, data_root, out, regions_out, device,
                         build=build_members)
