"""``python -m benchmarks.gpu_check`` on the CPU with the tiniest settings: the script a GPU
machine runs must run here unchanged, and what it computes must agree with hand computations
(step counts from the protocols, hours = seconds per step x steps, stand-in data named)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # benchmarks/ sits beside src/, outside the installed package
    sys.path.insert(0, str(REPO))

from benchmarks import determinism, gpu_check  # noqa: E402
from benchmarks.stand_in import cap_data, full_n_test, full_n_train, stand_in_data  # noqa: E402
from trainlens.data import DATASETS  # noqa: E402
from trainlens.data.torchvision.sources import TorchvisionConfig  # noqa: E402


def test_compare_is_bitwise_or_gives_the_largest_difference():
    a = np.array([1.0, np.nan, 3.0])
    assert determinism.compare(a, a.copy()) == (True, 0.0)
    bitwise, largest = determinism.compare(a, np.array([1.0, np.nan, 3.5]))
    assert not bitwise and largest == 0.5
    assert determinism.compare(np.array([0.0]), np.array([-0.0])) == (False, 0.0)  # bits differ
    assert determinism.compare(a, a[:2]) == (False, math.inf)


def test_full_sizes_and_caps_follow_the_data_blocks():
    e1b = {"name": "cifar10", "classes": [0, 5], "n_train_per_class": 5000,
           "n_test_per_class": 1000}
    assert full_n_train(e1b) == 10000 and full_n_test(e1b) == 2000
    fort = {"name": "mnist", "preprocess": "standardize_unit_norm"}
    assert full_n_train(fort) == 60000 and full_n_test(fort) == 10000
    assert full_n_train({"name": "sinusoid", "n_train": 100}) is None
    capped = cap_data({"members": [{"data": dict(fort)}, {"data": dict(e1b)}]}, 64, 32)
    assert capped["members"][0]["data"]["n_train_per_class"] == 7  # ceil(64 / 10)
    assert capped["members"][0]["data"]["n_test_per_class"] == 2  # ceil(16 / 10)
    assert capped["members"][1]["data"]["n_train_per_class"] == 32  # ceil(64 / 2)
    assert cap_data({"members": [{"data": dict(fort)}]}, 16, 512)["members"][0]["data"][
        "n_train_per_class"] == 52  # one full batch of 512: ceil(512 / 10)


def test_stand_in_serves_only_missing_sets(tmp_path):
    config = TorchvisionConfig(name="mnist", classes=(3, 6), n_train_per_class=5,
                               n_test_per_class=2, flatten=True)
    rng = np.random.default_rng(0)
    with pytest.raises(FileNotFoundError):
        DATASETS["mnist"].load(config, rng, tmp_path)
    used: set[str] = set()
    with stand_in_data(tmp_path, used):
        split = DATASETS["mnist"].load(config, rng, tmp_path)
    assert used == {"mnist"}
    assert tuple(split.x_train.shape) == (10, 784) and tuple(split.x_test.shape) == (4, 784)
    assert sorted(split.y_train.tolist()) == [0] * 5 + [1] * 5


def test_cost_section_runs_on_the_cpu(tmp_path):
    out = tmp_path / "out"
    gpu_check.main(["--device", "cpu", "--out", str(out), "--sections", "cost", "--groups",
                    "loukas2021/e1a-|fort2019/e2_mnist_fc-|nakazato2024/e2-", "--warmup", "1",
                    "--steps", "2", "--data-cap", "64", "--no-compile", "--data-root",
                    str(tmp_path / "data")])
    table = pd.read_csv(out / "cost.tsv", sep="\t", keep_default_na=False).set_index("paper")
    assert "error" not in table.columns
    # full lengths from the protocols: E1a 3000 epochs of 100 points at batch size 1; fort2019
    # E2 MNIST 100 epochs of ceil(60,000 / 32) Adam steps; nakazato2024 E2 1000 GD steps for
    # each of 4 activations
    assert table.loc["loukas2021", "total_steps"] == 3000 * 100
    assert table.loc["fort2019", "total_steps"] == 100 * 1875
    assert table.loc["nakazato2024", "total_steps"] == 4 * 1000
    assert (table["per_step_s"] > 0).all()
    assert np.allclose(table["total_s"], table["per_step_s"] * table["total_steps"])
    assert table.loc["fort2019", "stand_in"] == "mnist"  # no MNIST in an empty data root
    assert table.loc["nakazato2024", "cpu_only"]
    # 7 lrs x 3 seeds = 21 members x (60,000 + 10,000) images x 784 floats x 4 bytes, twice
    assert table.loc["fort2019", "data_bytes"] == 2 * 21 * 70000 * 784 * 4
    report = (out / "gpu_check.md").read_text()
    assert "figures/all, one CPU device" in report and "n/a" in report


@pytest.mark.slow
def test_determinism_on_the_cpu_is_bitwise(tmp_path):
    """CPU runs are bitwise reproducible (README, reliability table): the comparison must say
    so for every engine, through fresh processes (minutes on a loaded 2-core machine)."""
    rows = determinism.run("cpu", tmp_path, tiny=True)
    assert [r["engine"] for r in rows] == ["ensemble", "regularized", "two_layer"]
    for row in rows:
        assert "error" not in row, row
        assert row["metrics_bitwise"] and row["checkpoints_bitwise"], row
        assert row["metric_values"] > 0 and row["checkpoint_tensors"] > 0
