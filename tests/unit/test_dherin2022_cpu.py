"""dherin2022 at cpu scale (issue 26): the MLP versions of its experiments on real MNIST
(mnist5k, 28x28 = 784 inputs), E1 exactly as at paper scale, the ResNet-18 E9 paper scale only."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainlens.experiments.loading import load_experiments

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments" / "dherin2022.yaml"
# every experiment of the paper that trains an MLP at smoke scale (docs/protocols/dherin2022.md §3)
TRAINED = {"e2", "e3", "e4", "e5", "e6_input_noise", "e6_label_noise", "e6_label_noise_fixed",
           "e7", "e8", "e9"}


@pytest.fixture(scope="module")
def cpu_groups():
    return load_experiments(EXPERIMENTS, "cpu")


def test_cpu_runs_e1_and_the_mlp_experiments_and_no_resnet(cpu_groups):
    assert {g.experiment for g in cpu_groups} == TRAINED | {"e1"}
    for group in cpu_groups:
        for member in group.config["members"]:
            assert member["model"]["name"] == "mlp", group.group_id
            assert "width" not in member["model"]  # no ResNet key survives the merge


def test_cpu_trains_on_mnist5k_at_784_inputs(cpu_groups):
    for group in cpu_groups:
        if group.experiment == "e1":
            continue
        for member in group.config["members"]:
            data, model = member["data"], member["model"]
            assert data["name"] == "mnist5k", group.group_id
            assert data.get("flatten") is True
            assert model["input_dim"] == 28 * 28 and model["out_dim"] == 10
            assert not {"n_train", "n_test"} & set(data)  # no digits or CIFAR key survives


def test_cpu_keeps_the_paper_protocol_of_the_sgd_sweeps(cpu_groups):
    """lr 0.02, batch 128, CE (paper-scale base, docs/protocols/dherin2022.md §3) and the paper
    grids of E2, E7, E8."""
    by_experiment = {}
    for group in cpu_groups:
        for member in group.config["members"]:
            by_experiment.setdefault(group.experiment, []).append(member)
    for name in ("e2", "e3", "e4", "e5", "e6_input_noise", "e6_label_noise", "e7", "e8"):
        for member in by_experiment[name]:
            train = member["train"]
            assert train["loss"] == "cross_entropy" and train.get("optimizer", "sgd") == "sgd"
            assert train["lr"] == 0.02 or name == "e7"
            assert train["batch_size"] == 128 or name == "e8"
    assert sorted({m["train"]["weight_decay"] for m in by_experiment["e2"]}) == [
        0.0, 1e-5, 1e-4, 5e-4, 1e-3, 5e-3]
    assert sorted({m["train"]["lr"] for m in by_experiment["e7"]}) == [
        0.005, 0.01, 0.02, 0.05, 0.1, 0.2]
    assert sorted({m["train"]["batch_size"] for m in by_experiment["e8"]}) == [
        16, 32, 64, 128, 256, 512]
    for name in ("e7", "e8"):
        assert {m["train"]["target_loss"] for m in by_experiment[name]} == {0.05}
    # 3 seeds everywhere but E9 (2, as at smoke)
    assert {m["seed"] for m in by_experiment["e2"]} == {0, 1, 2}


def test_cpu_e1_is_paper_scale_e1(cpu_groups):
    paper = [g for g in load_experiments(EXPERIMENTS, "paper") if g.experiment == "e1"]
    cpu = [g for g in cpu_groups if g.experiment == "e1"]
    assert [g.group_id for g in cpu] == [g.group_id for g in paper]  # same science, same run ids
    for at_cpu, at_paper in zip(cpu, paper):
        assert at_cpu.config == {**at_paper.config, "scale": "cpu"}
    depths = {m["model"]["depth"] for g in cpu for m in g.config["members"]}
    assert depths == {1, 2, 4, 8, 16, 32, 64}
