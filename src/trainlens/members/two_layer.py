"""The members of a ``two_layer`` group (nakazato2024): the validated blocks and data of each
member, from its seed's "data" stream.

Training and the measure stage both rebuild a member's data here, so it is the same data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from trainlens.data import DATASETS
from trainlens.experiments.train_config import TrainConfig, make_train_config
from trainlens.experiments.typed import make_dataclass_config
from trainlens.models.two_layer import TwoLayerConfig
from trainlens.seeds import RunStreams
from trainlens.splits import Split


def member_blocks(config: dict[str, Any], member: dict[str, Any]
                  ) -> tuple[Any, TwoLayerConfig, TrainConfig]:
    """The validated data, model and train blocks of one member."""
    where = f"group {config['group_id']} member {member['run_id']}"
    data_spec = DATASETS[member["data"]["name"]]
    data = make_dataclass_config(data_spec.config_cls, member["data"], f"{where}: data")
    model = make_dataclass_config(TwoLayerConfig, member["model"], f"{where}: model")
    train = make_train_config("two_layer", member["train"], f"{where}: train")
    return data, model, train


def member_data(config: dict[str, Any], member: dict[str, Any], data_root: Path) -> Split:
    """One member's training set, from its seed's "data" stream (measure rebuilds it the same)."""
    data, model, _ = member_blocks(config, member)
    if getattr(data, "input_dim", model.input_dim) != model.input_dim:
        raise ValueError(f"group {config['group_id']}: data.input_dim {data.input_dim} differs "
                         f"from model.input_dim {model.input_dim}")
    split = DATASETS[member["data"]["name"]].load(data, RunStreams(member["seed"]).numpy("data"),
                                                  data_root)
    return split.to("cpu", torch.float64)
