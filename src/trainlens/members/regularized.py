"""The members of a ``regularized`` group (dherin2022): validated blocks, sub-ensembles, builder.

Training trains the sub-ensembles one after the other; the measure stage rebuilds the same
members (zero-padded alike) to load their checkpoints. Both import this module.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from trainlens.data import DATASETS
from trainlens.experiments.train_config import make_train_config
from trainlens.experiments.typed import make_dataclass_config
from trainlens.members import DTYPES, Member, flatten_block
from trainlens.models import MODELS
from trainlens.models.mlp import ZERO_PRESERVING, MLPConfig, zero_pad
from trainlens.seeds import RunStreams

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
            make_train_config("regularized", member["train"], f"{where}: train"))


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
               **flatten_block("train", train.block())}
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
