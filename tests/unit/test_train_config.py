"""The one train config (docs/design.md "A change and its one file"): every trainer's ``train``
block is a :class:`TrainConfig`; a trainer refuses the keys it does not read, and each check
holds for every trainer that reads its field."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from trainlens.experiments.loading import load_experiments
from trainlens.experiments.train_config import (
    DTYPES,
    GROUPS,
    STEPS,
    TrainConfig,
    make_train_config,
)
from trainlens.experiments.trainers import TRAINERS
from trainlens.experiments.typed import ConfigError
from trainlens.losses import CLOSED_FORM_LOSSES, LOSSES


def test_the_name_lists_equal_their_registries() -> None:
    from trainlens.members import DTYPES as TORCH_DTYPES
    from trainlens.training.steps import STEPS as STEP_CLASSES

    assert set(STEPS) == set(STEP_CLASSES)
    assert set(DTYPES) == set(TORCH_DTYPES)
    assert set(CLOSED_FORM_LOSSES) <= set(LOSSES)


@pytest.mark.parametrize("trainer", sorted(TRAINERS))
def test_every_trainer_reads_grouped_fields_and_its_defaults_build(trainer: str) -> None:
    reads = TRAINERS[trainer].reads
    assert set(reads) <= set(GROUPS), set(reads) - set(GROUPS)
    assert list(TrainConfig.of(trainer).block()) == list(reads)
    assert make_train_config(trainer, {}, "here") == TrainConfig.of(trainer)


def test_every_field_is_read_by_some_trainer() -> None:
    fields = {f.name for f in dataclasses.fields(TrainConfig)} - {"trainer"}
    assert fields == set().union(*(t.reads for t in TRAINERS.values()))


@pytest.mark.parametrize(("trainer", "key", "value", "group"), [
    ("ensemble", "langevin_temperature", 0.1, "regularizers"),
    ("ensemble", "steps", 10, "schedule"),
    ("two_layer", "optimizer", "adam", "optimizer"),
    ("regularized", "compile", True, "numerics"),
])
def test_a_key_of_another_trainer_is_refused_naming_key_group_and_trainer(
        trainer: str, key: str, value: object, group: str) -> None:
    with pytest.raises(ConfigError) as error:
        make_train_config(trainer, {key: value}, "group g: train")
    message = str(error.value)
    assert "\n" not in message
    assert f"key {key} ({group}) is not read by trainer {trainer}" in message


def test_an_unknown_key_is_refused_with_the_allowed_ones() -> None:
    with pytest.raises(ConfigError, match="unknown key.*lrr; allowed: .*lr"):
        make_train_config("regularized", {"lrr": 0.1}, "group g: train")


@pytest.mark.parametrize(("trainer", "values", "refused"), [
    ("ensemble", {"batch_size": 0}, True),  # minibatches only
    ("regularized", {"batch_size": 0}, False),  # 0 = full batch
    ("two_layer", {"batch_size": 0}, False),
    ("two_layer", {"dtype": "float32"}, True),  # nakazato2024 §4.7
    ("regularized", {"dtype": "float32"}, False),
    ("two_layer", {"steps": 0}, True),
    ("regularized", {"steps": 0}, False),
    ("two_layer", {"loss": "cross_entropy"}, True),  # closed-form losses only
    ("ensemble", {"label_noise": 1.5}, False),  # mse_half: a std, not a share
    ("ensemble", {"label_noise": 1.5, "loss": "bce"}, True),
    ("regularized", {"label_noise": 1.5}, True),
    ("regularized", {"gc_penalty": float("nan")}, True),
    ("ensemble", {"lr_decay_per_epoch": 0.0}, True),
    ("two_layer", {"langevin_temperature": -1.0}, True),
])
def test_each_check_holds_for_the_trainers_that_read_its_field(
        trainer: str, values: dict, refused: bool) -> None:
    if refused:
        with pytest.raises(ConfigError, match=f"train.{next(iter(values))}"):
            make_train_config(trainer, values, "group g: train")
    else:
        make_train_config(trainer, values, "group g: train")


def test_an_experiment_file_with_another_trainers_key_fails_to_load(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[2]
    document = yaml.safe_load((repo / "experiments" / "loukas2021.yaml").read_text())
    document["experiments"]["e1a"].setdefault("train", {})["langevin_temperature"] = 0.1
    path = tmp_path / "loukas2021.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError, match="key langevin_temperature \\(regularizers\\) is not "
                                          "read by trainer ensemble"):
        load_experiments(path, "smoke")
