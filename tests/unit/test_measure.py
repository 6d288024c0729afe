"""The measure stage: one loop for every trainer, probes chosen by the experiment, input sets
built from the run's data, and each probe's rows in its table (metrics or an extra table)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from trainlens.commands import _named_paths
from trainlens.experiments.typed import ConfigError
from trainlens.io import atomic_torch_save
from trainlens.measure import measure_group, selected_probes
from trainlens.measure.inputs import RunInputs
from trainlens.measure.members import RUNS, MeasuredRun, _state_loader, _two_layer_loader
from trainlens.models.two_layer import TwoLayerConfig, TwoLayerNet, init_params
from trainlens.probes import PROBES, Probe
from trainlens.probes.base import stacked_params
from trainlens.splits import Split
from trainlens.tables import TABLES, read_table

F64 = {"dtype": torch.float64}
RUN_IDS = ["r-0", "r-1"]
STEPS = (0, 5, 10)


def _split(seed: int) -> Split:
    g = torch.Generator().manual_seed(seed)
    return Split(torch.randn(6, 2, generator=g, **F64), torch.tensor([0, 1, 0, 1, 0, 1]),
                 torch.randn(4, 2, generator=g, **F64), torch.tensor([1, 0, 1, 0]),
                 {"superclass": np.array([0, 0])})


def _runs(config, data_root, device) -> list[MeasuredRun]:
    runs = []
    for seed, run_id in enumerate(RUN_IDS):
        model = nn.Linear(2, 1, **F64)
        runs.append(MeasuredRun(run_id, seed, model, _split(seed), "mse_half",
                                _state_loader(model)))
    return runs


def _grid_probe(calls: list) -> Probe:
    """A stand-in extra-table probe: one ``regions`` row per test input, on the last checkpoint,
    turned on by its block."""

    def measure(model, inputs, options):
        calls.append(options.settings)
        x = inputs["test"].x
        with torch.no_grad():
            out = model(x).squeeze(1)
        n = len(x)
        return pd.DataFrame({"u1": x[:, 0].numpy(), "u2": x[:, 1].numpy(),
                             "region": np.arange(n), "in_training_region": np.zeros(n, bool),
                             "lipschitz": np.ones(n), "output": out.numpy(),
                             "lp_bound": np.full(n, np.nan), "alpha_nonzeros": np.zeros(n, int)})

    return Probe(measure, ("test",), dict, "grid_block", table="regions",
                 last_checkpoint_only=True, block_enables=True)


@pytest.fixture
def group(tmp_path, monkeypatch):
    """A fake trainer's group: two runs of a linear model, three checkpoints."""
    monkeypatch.setitem(RUNS, "fake", _runs)
    calls: list = []
    monkeypatch.setitem(PROBES, "grid", _grid_probe(calls))
    for step in STEPS:
        weight = torch.full((2, 1, 2), float(step), **F64)
        atomic_torch_save({"step": step, "epoch": step / 5, "run_ids": RUN_IDS,
                           "params": {"weight": weight, "bias": torch.zeros(2, 1, **F64)}},
                          tmp_path / "checkpoints" / f"step_{step:09d}.pt")

    def write(config: dict):
        path = tmp_path / "config.json"
        path.write_text(json.dumps({"trainer": "fake", "train": {}, "members": [], **config}))
        return path

    return tmp_path, write, calls


def test_metrics_and_an_extra_table_from_one_loop(group):
    root, write, calls = group
    config = write({"probes": ["lipschitz"], "grid_block": {"k": 1}})
    metrics = measure_group(config, root / "checkpoints", root, root / "m.parquet",
                            {"regions": root / "r.parquet"})
    assert len(metrics) == len(STEPS) * len(RUN_IDS) * 2 * 2  # train/test x mean/max
    # λ of a linear map is ‖w‖ = step·√2 on every input
    final = metrics[(metrics["step"] == 10) & (metrics["metric"] == "lipschitz_max")]
    assert final["value"].tolist() == pytest.approx([10 * 2**0.5] * 4)
    assert sorted(set(metrics["epoch"])) == [0.0, 1.0, 2.0]
    regions = read_table(root / "r.parquet", "regions")
    assert list(regions.columns) == list(TABLES["regions"])
    assert set(regions["step"]) == {10} and list(dict.fromkeys(regions["run_id"])) == RUN_IDS
    assert len(regions) == 2 * 4 and calls == [{"k": 1}, {"k": 1}]


def test_an_extra_table_not_asked_for_is_not_computed_and_one_without_rows_is_empty(group):
    root, write, calls = group
    measure_group(write({"probes": [], "grid_block": {"k": 1}}), root / "checkpoints", root,
                  root / "m.parquet")
    assert calls == []
    measure_group(write({"probes": ["lipschitz"]}), root / "checkpoints", root,
                  root / "m.parquet", {"regions": root / "r.parquet"})
    assert calls == [] and read_table(root / "r.parquet", "regions").empty


def test_unknown_probe_or_table_is_refused(group):
    root, write, _ = group
    with pytest.raises(ValueError, match="unknown"):
        selected_probes({"probes": ["nope"]})
    with pytest.raises(ValueError, match="tables"):
        measure_group(write({}), root / "checkpoints", root, root / "m.parquet",
                      {"nope": root / "x.parquet"})


def test_region_analysis_runs_when_its_block_is_set():
    names = [name for name, _, _ in selected_probes({"probes": ["lipschitz"],
                                                      "region_analysis": {"grid_points": 7}})]
    assert names == ["lipschitz", "region_analysis"]
    (_, _, settings), = selected_probes({"region_analysis": {"grid_points": 7}})
    assert settings.grid_points == 7
    assert selected_probes({"probes": [], "region_analysis": None}) == []


def test_class_stratified_sets_are_fixed_by_the_probe_seed():
    y = torch.tensor([0, 1, 2] * 10)
    split = Split(torch.arange(30.0).unsqueeze(1), y, torch.arange(9.0).unsqueeze(1), y[:9])
    settings = PROBES["stiffness"].options_of({"stiffness": {"train_per_class": 3,
                                                             "val_per_class": 2}})
    sets = RunInputs(split).for_probe(PROBES["stiffness"], settings)
    assert list(sets) == ["train", "test", "class_probe_train", "class_probe_test"]
    assert torch.bincount(sets["class_probe_train"].y).tolist() == [3, 3, 3]
    assert torch.bincount(sets["class_probe_test"].y).tolist() == [2, 2, 2]
    # each picked input is its own index, so the labels say the pick is consistent
    picked = sets["class_probe_train"].x.squeeze(1).long()
    assert torch.equal(y[picked], sets["class_probe_train"].y)
    again = RunInputs(split).for_probe(PROBES["stiffness"], settings)
    assert torch.equal(again["class_probe_train"].x, sets["class_probe_train"].x)
    other = PROBES["stiffness"].options_of({"stiffness": {"train_per_class": 3, "probe_seed": 5}})
    moved = RunInputs(split).for_probe(PROBES["stiffness"], other)
    assert not torch.equal(moved["class_probe_train"].x, sets["class_probe_train"].x)


def test_two_layer_runs_load_their_stacked_slice_and_skip_a_diverged_run():
    config = TwoLayerConfig(input_dim=3, width=4, activation="tanh")
    stacked = {k: torch.cat([init_params(config, torch.Generator().manual_seed(s))[k]
                             for s in (1, 2)]) for k in ("a", "W", "b")}
    model = TwoLayerNet(config)
    load = _two_layer_loader(model)
    assert load(stacked, 1)
    for name, value in stacked_params(model).items():
        assert torch.equal(value, stacked[name][1:2])
    stacked["W"][0, 0, 0] = float("nan")
    assert not load(stacked, 0)


def test_a_two_layer_probe_names_the_network_it_needs():
    with pytest.raises(TypeError, match="two-layer"):
        stacked_params(nn.Linear(2, 1))


def test_extra_tables_are_named_on_the_command_line():
    assert _named_paths(["regions=a/b.parquet"], "--table") == {"regions": "a/b.parquet"}
    for bad in ("regions", "=x.parquet", "regions="):
        with pytest.raises(ConfigError, match="NAME=PATH"):
            _named_paths([bad], "--table")
