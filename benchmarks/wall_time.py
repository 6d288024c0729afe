"""Cases with a time budget instead of a baseline (issue: performance), each run as a user runs
it, from a fresh process:

- loukas2021 E1a at its paper configuration (4 frequencies x 3 seeds x 300k steps at batch size
  1, one compiled ensemble): ``trainlens train`` on the resolved paper-scale group, 2 threads;
  budget 300 s.
- the whole smoke workflow of every paper built so far, from an empty results folder:
  ``snakemake --cores 2 figures/all`` in a fresh copy of the workflow; budget 600 s.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.timing import CPU
from trainlens.experiments.loading import load_experiments

REPO = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = ("Snakefile", "rules", "experiments", "analysis", "envs", "report")


def _timed(command: list[str], cwd: Path, log: Path) -> float:
    start = time.perf_counter()
    with log.open("w") as handle:
        done = subprocess.run(command, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:3])} failed (exit {done.returncode}); see {log}")
    return seconds


def e1a_paper(quick: bool = False, device: torch.device = CPU) -> list[dict]:
    (group,) = [g for g in load_experiments(REPO / "experiments" / "loukas2021.yaml", "paper")
                if g.experiment == "e1a"]
    config = dict(group.config)
    if quick:  # a tenth of the steps (the budget is scaled with them)
        config["train"] = {**config["train"], "epochs": config["train"]["epochs"] // 10}
    budget = 300.0 / (10 if quick else 1)
    n_train = config["members"][0]["data"]["n_train"]  # an epoch is n_train steps at bs 1
    members, steps = len(config["members"]), config["train"]["epochs"] * n_train
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "config.json").write_text(json.dumps(config))
        # the module, not an installed ``trainlens`` command (a device machine has none)
        command = [sys.executable, "-m", "trainlens.cli", "train", "--config",
                   str(work / "config.json"), "--runs", str(work / "runs.parquet"),
                   "--metrics", str(work / "metrics.parquet"), "--checkpoints",
                   str(work / "checkpoints"), "--trace", str(work / "trace.npz"),
                   "--threads", "2", "--device", str(device)]
        seconds = _timed(command, work, Path(tempfile.gettempdir()) / "benchmark_e1a_paper.log")
    return [{"case": f"loukas2021 E1a paper config ({members} runs x {steps:,} steps at bs 1)",
             "baseline_s": None, "trainlens_s": seconds, "budget_s": budget,
             "note": "`trainlens train` of the paper-scale group, one compiled ensemble, "
                     f"2 threads on {device}, compile included"}]


def smoke_workflow(quick: bool = False, device: torch.device = CPU) -> list[dict]:
    """The smoke scale is a CPU build by design (2 cores), whatever the runner's device."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in WORKFLOW_FILES:
            source = REPO / name
            (shutil.copytree if source.is_dir() else shutil.copy)(source, work / name)
        papers, studies = load_papers(work), load_studies(work)
        seconds = _timed([sys.executable, "-m", "snakemake", "--cores", "2", "figures/all"],
                         work, Path(tempfile.gettempdir()) / "benchmark_smoke_workflow.log")
    built = f"{len(papers)} papers ({', '.join(papers)})" + (
        f" and the {', '.join(studies)} study" if studies else "")
    return [{"case": f"smoke workflow of {built}",
             "baseline_s": None, "trainlens_s": seconds, "budget_s": 600.0,
             "note": "`snakemake --cores 2 figures/all` from empty results, fresh copy"}]


def load_papers(root: Path) -> list[str]:
    import yaml

    return yaml.safe_load((root / "experiments" / "config.yaml").read_text())["papers"]


def load_studies(root: Path) -> list[str]:
    """The suite studies the default build includes (the atlas; experiments/config.yaml)."""
    import yaml

    return yaml.safe_load((root / "experiments" / "config.yaml").read_text()).get("studies", [])
