"""The runs of a group as the measure stage sees them: a model to load each checkpoint into, the
run's data, loss and seed. Built with :mod:`trainlens.members` (the code training builds them
with, so the data and models are the same); one builder per trainer, chosen by the group's
``trainer``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainlens.measure.inputs import RunInputs
from trainlens.members import build_members
from trainlens.members.regularized import build_members as build_regularized_members
from trainlens.members.two_layer import member_blocks, member_data
from trainlens.models.two_layer import TwoLayerNet
from trainlens.splits import Split

Params = Mapping[str, torch.Tensor]


@dataclass
class MeasuredRun:
    """One run: ``load(params, index)`` puts member ``index`` of a checkpoint's stacked
    parameters into ``model`` and says whether there is anything to measure."""

    run_id: str
    seed: int
    model: nn.Module
    split: Split
    loss: str | None  # the run's training loss (a trainlens.losses.LOSSES name)
    load: Callable[[Params, int], bool]
    inputs: RunInputs = field(init=False)

    def __post_init__(self) -> None:
        self.inputs = RunInputs(self.split)


def _state_loader(model: nn.Module) -> Callable[[Params, int], bool]:
    def load(params: Params, index: int) -> bool:
        model.load_state_dict({k: v[index] for k, v in params.items()})
        return True

    return load


def _two_layer_loader(model: TwoLayerNet) -> Callable[[Params, int], bool]:
    def load(params: Params, index: int) -> bool:
        own = {k: v[index:index + 1].to(torch.float64) for k, v in params.items()}
        if not all(torch.isfinite(v).all() for v in own.values()):
            return False  # a diverged run: its parameters measure nothing
        with torch.no_grad():
            for name, value in own.items():
                getattr(model, name).copy_(value[0])
        return True

    return load


def _run_loss(config: dict[str, Any], member: dict[str, Any]) -> str | None:
    return member.get("train", {}).get("loss", config["train"].get("loss"))


def _module_runs(build: Callable[..., list]) -> Callable[..., list[MeasuredRun]]:
    """Runs of a trainer whose members are ``trainlens.members.Member``s (models as modules)."""

    def runs(config: dict[str, Any], data_root: str | Path, device: torch.device
             ) -> list[MeasuredRun]:
        return [MeasuredRun(m.run_id, m.seed, m.model, m.split, _run_loss(config, spec),
                            _state_loader(m.model))
                for m, spec in zip(build(config, data_root, device), config["members"],
                                   strict=True)]

    return runs


def two_layer_runs(config: dict[str, Any], data_root: str | Path, device: torch.device
                   ) -> list[MeasuredRun]:
    """nakazato2024's runs: a ``TwoLayerNet`` each, in float64 on the CPU (the closed forms)."""
    runs = []
    for member in config["members"]:
        _, model_config, train = member_blocks(config, member)
        model = TwoLayerNet(model_config)
        runs.append(MeasuredRun(member["run_id"], member["seed"], model,
                                member_data(config, member, Path(data_root)), train.loss,
                                _two_layer_loader(model)))
    return runs


# the group's ``trainer`` -> its runs, ready to load checkpoints into
RUNS: dict[str, Callable[[dict[str, Any], str | Path, torch.device], list[MeasuredRun]]] = {
    "ensemble": _module_runs(build_members),
    "regularized": _module_runs(build_regularized_members),
    "two_layer": two_layer_runs,
}
