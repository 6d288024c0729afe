"""fort2019 at cpu scale (experiments/fort2019.yaml, header "cpu scale"): E1 FC/CNN and E2 FC on
mnist5k with v1's lr grid and the paper's 100 epochs; the CIFAR-100 and BERT claims are listed
as not run. Expected values are typed from the protocol (docs/protocols/fort2019.md §2b F-a,
F-b), not read from the YAML under test."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from trainlens.cli import load_module
from trainlens.experiments.loading import load_experiments

REPO = Path(__file__).resolve().parents[2]
e1_runs = load_module(REPO / "analysis" / "fort2019" / "stats.py").e1_runs
EXPERIMENTS = REPO / "experiments" / "fort2019.yaml"
V1_LRS = [1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3]  # protocol §2b F-a
EPOCHS = 100  # protocol §2b F-b (MNIST)
MNIST5K_TRAIN, MNIST5K_VAL = 4000, 1000  # mnist5k's split: 400 / 100 per digit


def _groups(scale: str) -> dict[str, dict]:
    return {g.experiment: g.config for g in load_experiments(EXPERIMENTS, scale)}


def test_cpu_groups_are_e1_fc_cnn_and_e2_fc_on_mnist5k():
    cpu = _groups("cpu")
    assert set(cpu) == {"e2_mnist_fc", "e1_mnist5k_cnn"}
    models = {name: {m["model"]["name"] for m in c["members"]} for name, c in cpu.items()}
    assert models == {"e2_mnist_fc": {"mlp"}, "e1_mnist5k_cnn": {"fort_cnn"}}
    for config in cpu.values():
        for member in config["members"]:
            assert member["data"]["name"] == "mnist5k"
            assert member["data"]["preprocess"] == "standardize_unit_norm"


def test_cpu_e2_keeps_the_paper_lr_grid_and_e1_its_lr():
    cpu = _groups("cpu")
    lrs = sorted({m["train_lr"] for m in cpu["e2_mnist_fc"]["members"]})
    assert len(lrs) == len(V1_LRS) and all(math.isclose(a, b) for a, b in zip(lrs, V1_LRS))
    assert {m["train_lr"] for m in cpu["e1_mnist5k_cnn"]["members"]} == {1e-3}
    seeds = {name: sorted({m["seed"] for m in c["members"]}) for name, c in cpu.items()}
    assert seeds["e2_mnist_fc"] == seeds["e1_mnist5k_cnn"] and len(seeds["e2_mnist_fc"]) >= 2


def test_cpu_trains_the_paper_length_and_protocol():
    paper, cpu = _groups("paper"), _groups("cpu")
    steps_per_epoch = math.ceil(MNIST5K_TRAIN / 32)  # batch 32
    for config in cpu.values():
        for member in config["members"]:
            train = member["train"]
            assert train["steps"] == EPOCHS * steps_per_epoch == 12500
            assert (train["optimizer"], train["batch_size"], train["loss"]) == (
                "adam", 32, "cross_entropy")
            assert len(train["checkpoint_epochs"]) == 17  # + 0 and the end: 19, as at paper
            assert 0.2 in train["checkpoint_epochs"]  # v1's 800 examples seen = 25 steps
    # the models are the paper's own (the cpu block changes no model key)
    assert cpu["e2_mnist_fc"]["members"][0]["model"] == paper["e2_mnist_fc"]["members"][0]["model"]
    assert cpu["e1_mnist5k_cnn"]["model"] == paper["e2_mnist_cnn"]["model"]
    assert paper["e2_mnist_fc"]["members"][0]["train"]["steps"] == EPOCHS * math.ceil(60000 / 32)


def test_cpu_probe_is_the_whole_validation_split():
    for config in _groups("cpu").values():
        probe = config["stiffness"]
        assert probe["val_per_class"] * 10 == MNIST5K_VAL
        assert probe["train_per_class"] == probe["val_per_class"]
        assert probe["probe_seed"] == 0


def test_e1_at_cpu_is_the_cnn_run_and_the_fc_lr_1e3_slice():
    def run(run_id, experiment, lr, model):
        return {"run_id": run_id, "experiment": experiment, "seed": 0, "train_lr": lr,
                "data_name": "mnist5k", "model_name": model}
    cpu = pd.DataFrame([run("cnn", "e1_mnist5k_cnn", 1e-3, "fort_cnn"),
                        run("fc3", "e2_mnist_fc", 1e-3, "mlp"),
                        run("fc4", "e2_mnist_fc", 1e-4, "mlp")])
    assert sorted(e1_runs(cpu)["run_id"]) == ["cnn", "fc3"]
    # smoke: an e1_ experiment of the same configuration replaces the E2 slice
    smoke = cpu.assign(data_name="digits", experiment=["e1_cnn", "e2_digits_fc", "e2_digits_fc"])
    smoke.loc[3] = run("e1fc", "e1_fc", 1e-3, "mlp") | {"data_name": "digits"}
    assert sorted(e1_runs(smoke)["run_id"]) == ["cnn", "e1fc"]


def test_cifar100_and_bert_claims_are_not_run_at_cpu():
    claims = load_module(REPO / "analysis" / "fort2019" / "claims.py").claims
    assert set(claims.not_run["cpu"]) == {"C10", "C11", "C12"}
    assert "CIFAR-100" in claims.not_run["cpu"]["C10"]
