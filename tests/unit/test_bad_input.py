"""Malformed configs and command lines are rejected before any training, with a message that
names the key (and the allowed values where there is a list), never with a traceback."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trainlens.cli import main
from trainlens.experiments.loading import load_experiments
from trainlens.experiments.typed import ConfigError

REPO = Path(__file__).resolve().parents[2]
VALID = yaml.safe_load((REPO / "experiments" / "loukas2021.yaml").read_text())
BLOCK_KEYS = {  # keys whose value is checked by a dataclass, with a value out of range
    # (data.frequency is absent: the grid always replaces it, so a base value is never used)
    ("data", "n_train"): 0, ("data", "test_fraction"): 1.5, ("data", "embed_scale"): -1.0,
    ("model", "width"): 0, ("model", "hidden_layers"): -2, ("model", "input_dim"): 0,
    ("train", "lr"): -0.1, ("train", "epochs"): 0, ("train", "batch_size"): 0,
    ("train", "checkpoints"): -1, ("train", "lr_decay_per_epoch"): 1.5,
}
WRONG_TYPES = st.sampled_from(["ten", [1, 2], {"a": 1}, None])
NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)


def _mutations():
    where = st.sampled_from(["base", "smoke", "paper"])
    key = st.sampled_from(sorted(BLOCK_KEYS))
    return st.one_of(
        st.tuples(st.just("unknown_block_key"), where, key.map(lambda k: k[0]), NAMES),
        st.tuples(st.just("wrong_type"), where, key, WRONG_TYPES),
        st.tuples(st.just("out_of_range"), where, key, st.none()),
        st.tuples(st.just("unknown_name"), where, st.sampled_from(["data", "model"]), NAMES),
        st.tuples(st.just("empty_grid"), st.just("base"), st.none(), st.none()),
        st.tuples(st.just("empty_seeds"), where, st.none(), st.none()),
        st.tuples(st.just("unknown_top_key"), st.just("base"), st.none(), NAMES),
    )


def _apply(kind, where, key, value) -> tuple[dict, str]:
    """The mutated document and the text the error message must contain."""
    document = copy.deepcopy(VALID)
    experiment = document["experiments"]["e1a"]
    target = experiment if where == "base" else experiment.setdefault(where, {})
    if kind == "unknown_block_key":
        name = f"x_{value}"
        target.setdefault(key, {})[name] = 1
        return document, name
    if kind in ("wrong_type", "out_of_range"):
        block, leaf = key
        target.setdefault(block, {})[leaf] = value if kind == "wrong_type" else BLOCK_KEYS[key]
        return document, leaf
    if kind == "unknown_name":
        target.setdefault(key, {})["name"] = f"no_{value}"
        return document, f"no_{value}"
    if kind == "empty_grid":
        experiment["grid"]["data.frequency"] = []
        return document, "grid"
    if kind == "empty_seeds":
        target["seeds"] = []
        return document, "seeds"
    document[f"x_{value}"] = 1
    return document, f"x_{value}"


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_mutations())
def test_every_malformed_config_is_rejected_naming_the_key(tmp_path, mutation):
    document, named = _apply(*mutation)
    path = tmp_path / "loukas2021.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError) as error:
        load_experiments(path, "smoke")
    assert named in str(error.value)
    if mutation[0] == "unknown_name":
        assert "allowed" in str(error.value)


ARGUMENTS = st.lists(st.one_of(
    st.sampled_from(["train", "measure", "resolve", "plot", "claims", "collect", "download",
                     "--config", "--scale", "huge", "smoke", "--threads", "-3", "0", "--out",
                     "/nonexistent/x.json", "--dataset", "imagenet", "--experiments",
                     "--table", "runs", "--runs", "--metrics", "--checkpoints", "--figure"]),
    NAMES), max_size=8)


@settings(max_examples=60, deadline=None)
@given(ARGUMENTS)
def test_bad_command_lines_exit_cleanly(argv):
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse's usage errors (and --help)
        code = stop.code
    assert code in (0, 2)


@pytest.mark.parametrize("argv", [
    ["train", "--config", "/nonexistent/config.json", "--runs", "r", "--metrics", "m",
     "--checkpoints", "c"],
    ["resolve", "--experiments", "/nonexistent.yaml", "--scale", "smoke", "--group", "g",
     "--out", "o"],
    ["download", "--dataset", "imagenet"],
])
def test_bad_files_and_names_give_one_line_errors(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("trainlens ") and "Traceback" not in err
