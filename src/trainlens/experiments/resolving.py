"""An experiment resolved into its groups (training jobs) at one scale.

Every grid point x seed is one *run*; runs that differ only by seed, or by a key listed in
``ensemble_over`` (keys the trainer can train together, see ``Trainer.foldable``), form one
*group* trained in one process. The grid points are the product of the grid's values
(``design: cartesian``, the default) or, with ``design: one_at_a_time``, the base point (the first
value of every key) plus every single-key variation of it (:func:`grid_points`); those members
carry ``varied``.

The values of each block are checked by the frozen dataclass of its registry entry (the train
block by the one ``TrainConfig``, with the fields its trainer reads); the registries (datasets,
models, the train config) are imported when a config is first checked, not with this module:
``trainlens list`` counts grid points without torch.
"""

from __future__ import annotations

import copy
import itertools
import json
from dataclasses import dataclass
from typing import Any

from trainlens.experiments.ids import group_id, run_id
from trainlens.experiments.scales import resolve_scale
from trainlens.experiments.trainers import TRAINERS
from trainlens.experiments.typed import ConfigError, make_dataclass_config
from trainlens.schema_errors import did_you_mean

DESIGNS = ("cartesian", "one_at_a_time")
SCIENCE_BLOCKS = ("data", "model", "train")


@dataclass(frozen=True)
class Group:
    """One training job: the members of an ensemble and everything needed to train them."""

    paper: str
    experiment: str
    group_id: str
    config: dict[str, Any]  # model, train, record; members: [{run_id, seed, data, train_lr, grid}]

    @property
    def run_ids(self) -> list[str]:
        return [m["run_id"] for m in self.config["members"]]


def grid_points(grid: dict[str, list[Any]], design: str,
                where: str) -> list[tuple[dict[str, Any], str | None]]:
    """The grid's points as (assignment of every grid key, varied key) pairs.

    ``cartesian``: the product of the values, varied None. ``one_at_a_time`` (the atlas study):
    the base point (every key at its first value; varied "base"), then for each key in order each
    of its other values with every other key at its base (varied = that dotted key); a repeat of
    the base value is skipped, so the base appears once."""
    if design not in DESIGNS:
        raise ConfigError(f"{where}: design {design!r} unknown; allowed: {', '.join(DESIGNS)}"
                          f"{did_you_mean(str(design), DESIGNS)}")
    if design == "cartesian":
        return [(dict(zip(grid, point)), None) for point in itertools.product(*grid.values())]
    base = {key: values[0] for key, values in grid.items()}
    points: list[tuple[dict[str, Any], str | None]] = [(base, "base")]
    for key, values in grid.items():
        seen = [base[key]]
        for value in values[1:]:
            if value not in seen:
                seen.append(value)
                points.append(({**base, key: value}, key))
    return points


def _check_name(block: dict[str, Any], kind: str, registry: dict[str, Any], where: str) -> None:
    name = block.get("name")
    if name not in registry:
        raise ConfigError(f"{where}: {kind}.name {name!r} unknown; allowed: "
                          f"{', '.join(sorted(registry))}{did_you_mean(name, registry)}")


def check_blocks(science: dict[str, Any], where: str, trainer: str) -> None:
    """Construct every block's dataclass once, so a bad value fails at workflow load."""
    from trainlens.data import DATASETS
    from trainlens.experiments.train_config import make_train_config
    from trainlens.models import MODELS

    data, model = science["data"], science["model"]
    _check_name(data, "data", DATASETS, where)
    _check_name(model, "model", MODELS, where)
    make_dataclass_config(DATASETS[data["name"]].config_cls, data, f"{where}: data")
    make_dataclass_config(MODELS[model["name"]].config_cls, model, f"{where}: model")
    make_train_config(trainer, science["train"], f"{where}: train")


def _check_folded(folded: list[str], grid: dict[str, Any], trainer: str, where: str) -> None:
    """Every ``ensemble_over`` key is a grid key the trainer can train together."""
    foldable = TRAINERS[trainer].foldable
    for key in folded:
        if key not in grid:
            raise ConfigError(f"{where}: ensemble_over key {key!r} is not a grid key; grid keys: "
                              f"{sorted(grid)}")
        if not key.startswith(foldable):
            raise ConfigError(f"{where}: ensemble_over key {key!r} does not train together with "
                              f"trainer {trainer!r}; allowed: {', '.join(foldable)}")


def _science(resolved: dict[str, Any], assignment: dict[str, Any]) -> dict[str, Any]:
    """The data, model and train blocks of one grid point."""
    science = {k: copy.deepcopy(resolved.get(k, {})) for k in SCIENCE_BLOCKS}
    for dotted, value in assignment.items():
        block, key = dotted.split(".", 1)
        science.setdefault(block, {})[key] = value
    return science


def _member(name: str, science: dict[str, Any], seed: int, assignment: dict[str, Any],
            varied: str | None) -> dict[str, Any]:
    """One run: a member carries its full blocks (folded keys such as lr and loss differ per
    member)."""
    member = {"run_id": run_id(name, science, seed), "seed": seed, "data": science["data"],
              "model": science["model"], "train": science["train"],
              "train_lr": science["train"].get("lr"), "grid": assignment}
    if varied is not None:  # one_at_a_time only: cartesian config.json is unchanged
        member["varied"] = varied
    return member


def _shared(science: dict[str, Any], folded: list[str]) -> dict[str, dict[str, Any]]:
    """The group's model and train blocks: only what every member shares."""
    return {block: {k: v for k, v in science[block].items()
                    if f"{block}.{k}" not in folded and (block, k) != ("train", "lr")}
            for block in ("model", "train")}


def _group_config(paper: str, name: str, scale: str, trainer: str, resolved: dict[str, Any],
                  shared: dict[str, Any], members: list[dict[str, Any]]) -> dict[str, Any]:
    """The config.json of one group (``trainlens resolve``)."""
    config = {"paper": paper, "experiment": name,
              "group_id": group_id(name, (m["run_id"] for m in members)), "scale": scale,
              "trainer": trainer, "description": resolved.get("description", ""), **shared,
              "record": resolved.get("record", {}), "probes": resolved.get("probes", []),
              "region_analysis": resolved.get("region_analysis"),
              "stiffness": resolved.get("stiffness"), "members": members}
    if resolved.get("kernel") is not None:  # the atlas kernel probe's options (n, chunk_size)
        config["kernel"] = resolved["kernel"]
    return config


def resolve_experiment(paper: str, name: str, spec: dict[str, Any], scale: str, where: str,
                       trainer: str) -> list[Group]:
    """Expand one experiment at ``scale`` into its groups (members in grid x seed order);
    ``trainer`` is the experiment's engine (its own ``trainer`` key, else the paper's)."""
    resolved = resolve_scale(spec, scale)
    grid: dict[str, list[Any]] = resolved.get("grid", {})
    points = grid_points(grid, resolved.get("design", "cartesian"), where)
    folded = resolved.get("ensemble_over", [])
    _check_folded(folded, grid, trainer, where)
    groups: dict[str, list[dict[str, Any]]] = {}
    shared: dict[str, dict[str, Any]] = {}
    for assignment, varied in points:
        science = _science(resolved, assignment)
        check_blocks(science, f"{where} at {assignment or 'the base point'}", trainer)
        key = json.dumps({k: v for k, v in assignment.items() if k not in folded},
                         sort_keys=True)
        groups.setdefault(key, []).extend(
            _member(name, science, seed, assignment, varied) for seed in resolved["seeds"])
        shared[key] = _shared(science, folded)
    configs = [_group_config(paper, name, scale, trainer, resolved, shared[key], members)
               for key, members in groups.items()]
    return [Group(paper, name, c["group_id"], c) for c in configs]
