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
from trainlens.data.corruption import label_noise_key
from trainlens.io import atomic_torch_save, atomic_write, save_npz
from trainlens.measure import measure_group
from trainlens.models import MODELS
from trainlens.models.mlp import ZERO_PRESERVING, MLPConfig, zero_pad
from trainlens.tables import empty_table, write_table
from trainlens.training.ensemble import DTYPES, stack_splits
from trainlens.training.group import Member, flatten_block, run_row
from trainlens.training.regularized import RegularizedTrainConfig
from trainlens.training.regularized_loop import MemberStreams, Params, train_regularized
from trainlens.training.seeds import RunStreams

# Keys every member of a sub-ensemble shares: the loop runs them once for all its members.
SHARED_TRAIN_KEYS = ("loss", "optimizer", "steps", "batch_size", "gc_projections", "target_loss",
                     "check_every", "log_every", "log_subset", "log_complexity",
                     "checkpoint_epochs", "dtype")
# Narrow MLPs are bound by the per-step overhead, not by arithmetic: widths up to this share one
# zero-padded sub-ensemble; wider ones share one only within a factor 2 of width.
PAD_FREELY_UP_TO = 64


def member_blocks(config: dict[str, Any], member: dict[str, Any]) -> tuple[Any, Any, Any]:
    """The validated data, model and train blocks of one member."""
    where = f"group {config['group_id']} member {member['run_id']}"
    data_spec, model_spec = DATASETS[member["data"]["name"]], MODELS[member["model"]["name"]]
    return (make_dataclass_config(data_spec.config_cls, member["data"], f"{where}: data"),
            make_dataclass_config(model_spec.config_cls, member["model"], f"{where}: model"),
            make_dataclass_config(RegularizedTrainConfig, member["train"], f"{where}: train"))


def _hidden_widths(model: Any) -> tuple[int, ...] | None:
    """The hidden widths of a zero-paddable MLP (φ(0) = 0), else None."""
    if not isinstance(model, MLPConfig) or model.activation not in ZERO_PRESERVING:
        return None
    return (model.widths[0],) * model.depth if model.depth else model.widths


def sub_ensembles(config: dict[str, Any]) -> list[list[int]]:
    """Member indices of the sub-ensembles of a group: members of one sub-ensemble share the
    shared train keys and the architecture up to the init scheme and (for zero-paddable MLPs)
    the hidden widths, padded to the widest (``zero_pad``). Each trains as one vmapped ensemble;
    the group's job trains them one after the other (E1 depths, E8 batch sizes, E9 widths)."""
    keyed: dict[str, list[tuple[tuple[int, ...], int]]] = {}
    for index, member in enumerate(config["members"]):
        _, model, train = member_blocks(config, member)
        shape = {k: v for k, v in asdict(model).items() if k != "init"}
        widths = _hidden_widths(model)
        if widths is not None:  # the number of layers must match; the widths may differ
            shape.update(widths=len(widths), depth=None)
        key = json.dumps([shape, [getattr(train, k) for k in SHARED_TRAIN_KEYS]], sort_keys=True)
        keyed.setdefault(key, []).append((widths or (0,), index))
    parts: list[list[int]] = []
    for entries in keyed.values():
        entries.sort(key=lambda e: (max(e[0]), e[1]))
        current: list[int] = []
        low = 0
        for widths, index in entries:
            wide = max(widths)
            if current and wide > max(PAD_FREELY_UP_TO, 2 * low):
                parts.append(sorted(current))
                current = []
            if not current:
                low = wide
            current.append(index)
        parts.append(sorted(current))
    return parts


def build_members(config: dict[str, Any], data_root: str | Path, device: str | torch.device
                  ) -> list[Member]:
    """Every member's data (from its "data" stream: label noise is fixed per seed) and initial
    model (from its "init" stream, on the CPU, so that the init is the same on any device),
    zero-padded to the widest member of its sub-ensemble."""
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
    for part in sub_ensembles(config):
        models = [member_blocks(config, config["members"][i])[1] for i in part]
        widths = [_hidden_widths(m) for m in models]
        if widths[0] is not None and len(set(widths)) > 1:
            widest = tuple(max(w[layer] for w in widths) for layer in range(len(widths[0])))
            for index, model in zip(part, models):
                members[index].model = zero_pad(members[index].model, model, widest)
    return members


def stack_state(models: list[nn.Module]) -> tuple[nn.Module, Params, Params]:
    """The meta-device base and the stacked, detached parameters and buffers of ``models``
    (BatchNorm running statistics are buffers, which the loukas2021 ensemble never has)."""
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")
    return (base, {k: v.detach().clone() for k, v in params.items()},
            {k: v.detach().clone() for k, v in buffers.items()})


def _train_part(config: dict[str, Any], members: list[Member],
                trains: list[RegularizedTrainConfig], label: str, checkpoints: Path,
                part: int) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Train one sub-ensemble; its checkpoints are step_<step>_<part>.pt. Returns its metrics
    and its runs rows."""
    base, params, buffers = stack_state([m.model for m in members])
    x_train, y_train, x_test, y_test = stack_splits([m.split for m in members])
    run_ids = [m.run_id for m in members]
    steps_per_epoch = trains[0].steps_per_epoch(x_train.shape[1])

    def save(step: int, state: dict[str, torch.Tensor]) -> None:
        atomic_torch_save({"step": step, "epoch": step / steps_per_epoch, "run_ids": run_ids,
                           "params": {k: v.detach().cpu().clone() for k, v in state.items()}},
                          checkpoints / f"step_{step:09d}_{part}.pt")

    streams = [MemberStreams(m.order_rng, *(RunStreams(m.seed).torch(name)
                                            for name in ("noise", "probes", "spectral")),
                             label_noise=label_noise_key(RunStreams(m.seed).seed_sequence("label_noise")))
               for m in members]
    result = train_regularized(base, params, buffers, x_train, y_train, x_test, y_test, trains,
                               streams, label, save)
    rows = []
    for m, diverged, stopped in zip(members, result.diverged_step, result.stop_step):
        settings = {**m.row, "stop_step": np.nan if stopped is None else float(stopped),
                    "reached_target": stopped is not None}
        rows.append(run_row(config, m.run_id, m.seed, diverged, result.wall_time_s,
                            str(x_train.device), settings))
    return result.log.frame(run_ids, result.diverged_step), rows


def train_regularized_group(config_path: str | Path, data_root: str | Path,
                            runs_out: str | Path, metrics_out: str | Path,
                            checkpoints_dir: str | Path, trace_out: str | Path | None = None,
                            device: str = "cpu", state_dir: str | Path | None = None,
                            save_interval_s: float = 60.0) -> pd.DataFrame:
    """Train every member of the group in ``config_path``, one sub-ensemble at a time; returns
    the runs table. ``state_dir``/``save_interval_s`` are accepted for the common entry point;
    these jobs restart from the beginning if killed."""
    with open(config_path) as handle:
        config = json.load(handle)
    members = build_members(config, data_root, device)
    trains = [member_blocks(config, m)[2] for m in config["members"]]
    checkpoints = Path(checkpoints_dir)
    checkpoints.mkdir(parents=True, exist_ok=True)
    parts = sub_ensembles(config)
    logged, rows = [], []
    for number, part in enumerate(parts):
        label = config["group_id"] + (f" part {number + 1}/{len(parts)}" if len(parts) > 1 else "")
        frame, part_rows = _train_part(config, [members[i] for i in part],
                                       [trains[i] for i in part], label, checkpoints, number)
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
    return runs


def measure_regularized_group(config_path: str | Path, checkpoints_dir: str | Path,
                              data_root: str | Path, out: str | Path,
                              regions_out: str | Path | None = None,
                              device: str = "cpu") -> pd.DataFrame:
    """The experiment's probes (``probes: [geometric_complexity]``) on every checkpoint."""
    return measure_group(config_path, checkpoints_dir, data_root, out, regions_out, device,
                         build=build_members)
