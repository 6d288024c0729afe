"""The tiny slice asks each registry entry for its rule: a rule's keys are fields of its entry's
dataclass and name caps that exist, a key left at its default takes the dataclass's default, and
the slicer itself names no dataset, model or trainer."""

from __future__ import annotations

import ast
import dataclasses
import importlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from trainlens.data import DATASETS
from trainlens.experiments.loading import load_experiments
from trainlens.experiments.slicing import PROBE_SLICES, SLICE_CAPS, tiny_slice
from trainlens.experiments.trainers import TRAINERS
from trainlens.models import MODELS
from trainlens.slice_rule import SliceRule

REPO = Path(__file__).resolve().parents[2]
CAPS = {"few": 4, "steps": 10}


@dataclass(frozen=True)
class Sizes:
    big: int = 100
    small: int = 2
    everything: int | None = None
    subset: int = 0
    times: tuple[int, ...] | None = None


def test_a_rule_caps_values_and_reads_absent_ones_from_the_dataclass() -> None:
    rule = SliceRule(caps={"big": "few", "small": "few", "everything": "few", "subset": "few"},
                     zero_means_all=("subset",), clip={"times": "steps"},
                     fixed={"compile": False})
    block = {"times": [0, 5, 20, 40]}
    rule.apply(block, Sizes, CAPS)
    # 100 -> 4; a default under the cap stays (never grows); None and 0 (all) become the cap
    assert block == {"big": 4, "small": 2, "everything": 4, "subset": 4, "times": [0, 5, 10],
                     "compile": False}
    given = {"big": 3, "subset": 1, "times": None}
    rule.apply(given, Sizes, CAPS)
    assert given["big"] == 3 and given["subset"] == 1 and given["times"] is None


def test_a_rule_without_a_dataclass_leaves_absent_keys_absent() -> None:
    block: dict = {}
    SliceRule(caps={"window": "few"}).apply(block, None, CAPS)
    assert block == {}


def _entries():
    """(where, rule, dataclass) of every registry entry's slice rule (a trainer's: the fields it
    reads, with their defaults)."""
    for name, spec in DATASETS.items():
        yield f"data {name}", spec.slice_rule, spec.config_cls
    for name, spec in MODELS.items():
        yield f"model {name}", spec.slice_rule, spec.config_cls
    for name, trainer in TRAINERS.items():
        yield f"trainer {name}", trainer.slice.train, trainer.reads
    for name, probe in PROBE_SLICES.items():
        if probe.options:
            module, cls = probe.options.split(":")
            yield f"probe {name}", probe.rule, getattr(importlib.import_module(module), cls)


@pytest.mark.parametrize(("where", "rule", "cls"), list(_entries()),
                         ids=[e[0] for e in _entries()])
def test_every_rule_names_fields_of_its_dataclass_and_known_caps(where, rule, cls) -> None:
    fields = set(cls) if isinstance(cls, dict) else {f.name for f in dataclasses.fields(cls)}
    keys = set(rule.caps) | set(rule.clip) | set(rule.fixed) | set(rule.zero_means_all)
    assert keys <= fields, (where, keys - fields)
    assert set(rule.caps.values()) | set(rule.clip.values()) <= set(SLICE_CAPS), where


def test_every_trainer_names_probe_blocks_that_have_a_rule() -> None:
    for trainer in TRAINERS.values():
        assert set(trainer.slice.probe_blocks) <= set(PROBE_SLICES)


def test_the_slicer_names_no_dataset_model_or_trainer() -> None:
    source = (REPO / "src" / "trainlens" / "experiments" / "slicing.py").read_text()
    strings = {node.value for node in ast.walk(ast.parse(source))
               if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    assert not strings & (set(DATASETS) | set(MODELS) | set(TRAINERS))


def test_a_dataset_default_reaches_the_slice(monkeypatch) -> None:
    """A sinusoid block without n_train is sliced from SinusoidConfig's default: a smaller
    default stays as it is (the slicer copies no default of its own)."""
    (group,) = [g for g in load_experiments(REPO / "experiments" / "loukas2021.yaml", "paper")
                if g.experiment == "e1a"]
    config = group.config
    for member in config["members"]:
        member["data"].pop("n_train", None)  # the seeds of a grid point share one block
    assert {m["data"]["n_train"] for m in tiny_slice(config)["members"]} == {16}
    spec = DATASETS["sinusoid"]
    fewer = dataclasses.make_dataclass("FewerPoints", [("n_train", int, dataclasses.field(
        default=5))], bases=(spec.config_cls,), frozen=True)
    monkeypatch.setitem(DATASETS, "sinusoid", dataclasses.replace(spec, config_cls=fewer))
    assert {m["data"]["n_train"] for m in tiny_slice(config)["members"]} == {5}
