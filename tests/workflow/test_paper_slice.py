"""Paper scale on a tiny slice: every job of ``snakemake --config scale=paper`` runs its real
command on one epoch of a few points (``slice=True``), CIFAR-10 and MNIST included.

The datasets are tiny files in torchvision's exact on-disk format (tests/tiny_datasets.py); their
MD5s replace torchvision's table through ``checksums=`` (allowed only with ``slice=True``). This
checks plumbing at paper configuration (models, ensemble sizes, lr schedules, dtypes, probes,
figures, claims, report), not results.
"""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from test_workflow import REPO, WORKFLOW_FILES, snakemake
from tiny_datasets import checksums_of, write_cifar10, write_cifar100, write_mnist

from trainlens.cli import load_module
from trainlens.experiments.loading import load_experiments


@pytest.mark.slow
def test_every_paper_scale_job_runs_on_a_tiny_slice(tmp_path):
    for name in WORKFLOW_FILES:
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / name)
    data = tmp_path / "data"
    write_mnist(data, n_train=60, n_test=30)  # 6 train and 3 test images per class
    write_mnist(data, folder="FashionMNIST", n_train=60, n_test=30)
    write_cifar10(data, per_batch=10, n_test=30)
    write_cifar100(data, n_train=400, n_test=200)  # 4 train and 2 test images per fine class
    checksums = tmp_path / "checksums.json"
    checksums.write_text(json.dumps(checksums_of(data)))
    config = ["--config", "scale=paper", "slice=True", f"checksums={checksums}"]
    # 12 min on 2 cores with compiled bytecode (2026-12-02 21:16 UTC; 16 to 30 min before, each
    # job recompiling torch's sources); the limit only stops a hung build
    done = snakemake("--cores", "2", "figures/all", *config, cwd=tmp_path, timeout=2700)
    assert done.returncode == 0, done.stderr[-5000:]
    # the slice is its own scale folder: it never overwrites, or passes for, a real paper build
    results, plots = tmp_path / "results" / "paper-slice", tmp_path / "figures" / "paper-slice"
    assert not (tmp_path / "results" / "paper").exists()
    assert (tmp_path / "figures" / "all").read_text() == (plots / "all").read_text()

    groups = load_experiments(REPO / "experiments" / "loukas2021.yaml", "paper")
    runs = pd.read_parquet(results / "loukas2021" / "tables" / "runs.parquet")
    assert set(runs["group_id"]) == {g.group_id for g in groups}  # every paper-scale job ran
    assert len(runs) == sum(len(g.config["members"]) for g in groups)
    e1b = runs[runs["experiment"] == "e1b"]
    assert set(e1b["data_name"]) == {"cifar10"} and len(e1b) == 32  # 4 p x 8 seeds, one job
    assert set(runs.loc[runs["experiment"] == "e3_mlp", "data_name"]) == {"mnist"}
    manifest = pd.read_csv(tmp_path / "figures" / "all", sep="\t")
    stems = load_module(REPO / "analysis" / "loukas2021" / "figures.py").figures.figures
    pngs = {f"figures/paper-slice/loukas2021/{stem}.png" for stem in stems}
    assert len(pngs) == 13 and pngs <= set(manifest["path"])  # every loukas2021 figure
    report = (plots / "loukas2021" / "REPORT.md").read_text()
    assert "TINY SLICE" in report and "Scale **paper**" in report
    claims = pd.read_csv(results / "loukas2021" / "claims.tsv", sep="\t",
                         keep_default_na=False)
    assert list(claims["claim_id"]) == [f"C{i}" for i in range(1, 13)]
    assert (claims["scale"] == "paper").all()
    # the atlas study: every paper-scale group ran, and its report names the slice
    groups = load_experiments(REPO / "experiments" / "atlas.yaml", "paper")
    runs = pd.read_parquet(results / "atlas" / "tables" / "runs.parquet")
    assert set(runs["group_id"]) == {g.group_id for g in groups}
    assert "paper-slice" in (plots / "atlas" / "REPORT.md").read_text().splitlines()[0]
    # nakazato2024: every full-tier group (the E4 extras included) ran its real command
    groups = load_experiments(REPO / "experiments" / "nakazato2024.yaml", "paper")
    runs = pd.read_parquet(results / "nakazato2024" / "tables" / "runs.parquet")
    assert set(runs["group_id"]) == {g.group_id for g in groups}
    assert {"e4a", "e4c", "e4d"} <= set(runs["experiment"])
    report = (plots / "nakazato2024" / "REPORT.md").read_text()
    assert "TINY SLICE" in report
    # dherin2022: every paper-scale group ran, the ResNet-18 sweeps on CIFAR-10
    groups = load_experiments(REPO / "experiments" / "dherin2022.yaml", "paper")
    runs = pd.read_parquet(results / "dherin2022" / "tables" / "runs.parquet")
    assert set(runs["group_id"]) == {g.group_id for g in groups}
    resnet = runs[runs["model_name"] == "resnet18"]
    assert set(resnet["data_name"]) == {"cifar10"} and "e9_resnet" in set(resnet["experiment"])
    claims = pd.read_csv(results / "dherin2022" / "claims.tsv", sep="\t",
                         keep_default_na=False)
    assert list(claims["claim_id"]) == [f"C{i}" for i in range(1, 12)]
    assert "TINY SLICE" in (plots / "dherin2022" / "REPORT.md").read_text()
    # fort2019: every (dataset, architecture) group of the E2 grid and the CIFAR-100 E3 ran
    groups = load_experiments(REPO / "experiments" / "fort2019.yaml", "paper")
    runs = pd.read_parquet(results / "fort2019" / "tables" / "runs.parquet")
    # the sliced regularized groups train the first seed of every grid value: v1's 7 lrs a
    # group (docs/protocols/fort2019.md §2b F-a), 13 groups with the PyTorch-init variant
    assert set(runs["group_id"]) == {g.group_id for g in groups} and len(runs) == 91
    assert set(runs["data_name"]) == {"mnist", "fashion_mnist", "cifar10", "cifar100"}
    assert set(runs["model_name"]) == {"mlp", "fort_cnn", "resnet20"}
    metrics = pd.read_parquet(results / "fort2019" / "tables" / "metrics.parquet")
    assert {"superclass_delta", "living_delta"} <= set(metrics["metric"])  # CIFAR-100 E3
    claims = pd.read_csv(results / "fort2019" / "claims.tsv", sep="\t",
                         keep_default_na=False)
    assert list(claims["claim_id"]) == [f"C{i}" for i in range(1, 13)]
    assert "TINY SLICE" in (plots / "fort2019" / "REPORT.md").read_text()


def test_checksums_without_slice_is_rejected(tmp_path):
    done = snakemake("-n", "figures/all", "--config", f"checksums={tmp_path / 'x.json'}")
    assert done.returncode != 0 and "allowed only with slice=True" in done.stdout + done.stderr
