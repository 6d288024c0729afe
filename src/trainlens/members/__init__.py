"""Members: rebuild the runs of a group from its config.json (a room both stages use).

Training builds each member (data from its seed's "data" stream, the initial model from its
"init" stream, the shuffle stream) and trains it; the measure stage rebuilds the very same members
and loads checkpoints into them. Both import this package, so neither stage imports the other
(pyproject.toml's import contracts). This module holds the ``ensemble`` trainer's members;
:mod:`trainlens.members.regularized` and :mod:`trainlens.members.two_layer` those of the other two
trainers. Every trainer's train block is the one ``trainlens.experiments.train_config:TrainConfig``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from trainlens.data import DATASETS
from trainlens.data.corruption import label_noise_key
from trainlens.experiments.typed import make_dataclass_config
from trainlens.models import MODELS
from trainlens.seeds import RunStreams
from trainlens.splits import Split

DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass
class Member:
    """One run of a group, ready to train."""

    run_id: str
    seed: int
    lr: float
    model: nn.Module
    split: Split
    order_rng: np.random.Generator
    row: dict[str, Any]  # config fields for runs.parquet (and ``varied`` in one_at_a_time grids)
    weight_decay: float = 0.0  # per member, like lr (issue 29)
    label_noise: float = 0.0
    label_noise_key: int | None = None  # from the run's "label_noise" stream, when label_noise > 0


# train keys that are per member (they vmap); lr travels as the member's ``train_lr``
PER_MEMBER_TRAIN = ("weight_decay", "label_noise")


def member_train(member: dict[str, Any]) -> dict[str, Any]:
    """The member's own values of the ``PER_MEMBER_TRAIN`` keys that its config sets (a folded
    grid key is absent from the group's shared train block)."""
    return {k: member["train"][k] for k in PER_MEMBER_TRAIN if k in member.get("train", {})}


def load_group_config(path: str | Path) -> dict[str, Any]:
    with open(path) as handle:
        return json.load(handle)


def flatten_block(prefix: str, block: dict[str, Any]) -> dict[str, Any]:
    """A config block as runs-table columns ``<prefix>_<key>`` (lists and dicts as JSON)."""
    return {f"{prefix}_{k}": (json.dumps(v) if isinstance(v, list | tuple | dict) else v)
            for k, v in block.items()}


def build_member(config: dict[str, Any], member: dict[str, Any], data_root: Path,
                 device: torch.device) -> Member:
    """Data, initial model and shuffle stream of one member, all from its own seed's streams."""
    streams = RunStreams(member["seed"])
    dtype = DTYPES[config["train"]["dtype"]]
    data_spec = DATASETS[member["data"]["name"]]
    data_config = make_dataclass_config(data_spec.config_cls, member["data"], "data")
    split = data_spec.load(data_config, streams.numpy("data"), data_root).to(device, dtype)
    model_spec = MODELS[config["model"]["name"]]
    model_config = make_dataclass_config(model_spec.config_cls, config["model"], "model")
    # Initialise on the CPU from the CPU generator so that a run's init is the same on any device.
    model = model_spec.build(model_config, streams.torch("init")).to(device=device, dtype=dtype)
    own = member_train(member)
    row = {**flatten_block("data", asdict(data_config)),
           **flatten_block("model", asdict(model_config)),
           **flatten_block("train", {**config["train"], **own, "lr": member["train_lr"]})}
    if "varied" in member:  # one_at_a_time grids: the knob this run varies, or "base"
        row["varied"] = member["varied"]
    noise = float(own.get("label_noise", 0.0))
    key = label_noise_key(streams.seed_sequence("label_noise")) if noise > 0 else None
    return Member(member["run_id"], member["seed"], member["train_lr"], model, split,
                  streams.numpy("order"), row, float(own.get("weight_decay", 0.0)), noise, key)


def build_members(config: dict[str, Any], data_root: str | Path, device: torch.device
                  ) -> list[Member]:
    """The members of an ``ensemble`` group, each with its data and a model to load into."""
    return [build_member(config, m, Path(data_root), device) for m in config["members"]]
