"""The members of a ``two_layer`` group (nakazato2024): typed train block, validated blocks and
data of each member, from its seed's "data" stream.

Training and the measure stage both rebuild a member's data here, so it is the same data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from trainlens.data import DATASETS
from trainlens.experiments.typed import make_dataclass_config
from trainlens.models.two_layer import TwoLayerConfig
from trainlens.probes.response import LOSS_NAMES
from trainlens.schedule import log_spaced_steps
from trainlens.seeds import RunStreams
from trainlens.splits import Split


@dataclass(frozen=True)
class TwoLayerTrainConfig:
    """One run's optimisation settings (docs/protocols/nakazato2024.md §3). ``batch_size`` 0 means
    the full batch (GD)."""

    loss: str = "logistic"
    lr: float = 0.5
    steps: int = 20000
    batch_size: int = 0
    langevin_temperature: float = 0.0
    dtype: str = "float64"
    checkpoints: int = 40  # log-spaced probe times in [1, steps] (plus 0), duplicates removed
    probe_times: tuple[int, ...] | None = None  # explicit probe times instead (E2)

    def __post_init__(self) -> None:
        if self.loss not in LOSS_NAMES:
            raise ValueError(f"train.loss must be one of {list(LOSS_NAMES)}, got {self.loss!r}")
        if self.lr <= 0 or self.steps < 1 or self.batch_size < 0:
            raise ValueError(f"train.lr must be > 0, train.steps >= 1 and train.batch_size >= 0 "
                             f"(0 = full batch), got {self.lr}, {self.steps}, {self.batch_size}")
        if self.langevin_temperature < 0:
            raise ValueError(f"train.langevin_temperature must be >= 0, got "
                             f"{self.langevin_temperature}")
        if self.dtype != "float64":
            raise ValueError("train.dtype must be float64 (docs/protocols/nakazato2024.md §4.7: "
                             "MSE losses reach 1e-28 and the finite-step probe cancels in "
                             f"float32), got {self.dtype!r}")
        if self.probe_times is not None and any(not 0 <= t <= self.steps
                                                for t in self.probe_times):
            raise ValueError(f"train.probe_times must lie in [0, {self.steps}], got "
                             f"{list(self.probe_times)}")

    def schedule(self) -> list[int]:
        if self.probe_times is not None:
            return sorted(set(self.probe_times) | {self.steps})
        return log_spaced_steps(self.steps, self.checkpoints)


def member_blocks(config: dict[str, Any], member: dict[str, Any]
                  ) -> tuple[Any, TwoLayerConfig, TwoLayerTrainConfig]:
    """The validated data, model and train blocks of one member."""
    where = f"group {config['group_id']} member {member['run_id']}"
    data_spec = DATASETS[member["data"]["name"]]
    data = make_dataclass_config(data_spec.config_cls, member["data"], f"{where}: data")
    model = make_dataclass_config(TwoLayerConfig, member["model"], f"{where}: model")
    train = make_dataclass_config(TwoLayerTrainConfig, member["train"], f"{where}: train")
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
