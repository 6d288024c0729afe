"""loukas2021 E1a at paper scale, end to end on one device: ``trainlens train`` (the compiled
12-run ensemble, 300k steps at batch size 1), ``trainlens measure`` (its probes), then the claims
computed from E1a's tables alone (C1-C6, C8), each next to the verdict of the same command on the
CPU (``E1A_CPU_CLAIMS``, written by ``python -m benchmarks.gpu_check --device cpu --sections
e1a``) where that file exists.

The training and measure jobs run as the workflow runs them, in fresh processes (``python -m
trainlens.cli``: the device machine has no installed ``trainlens`` command).
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

REPO = Path(__file__).resolve().parents[1]
E1A_CLAIMS = ("C1", "C2", "C3", "C4", "C5", "C6", "C8")  # those read from E1a's runs alone
E1A_CPU_CLAIMS = Path(__file__).with_name("e1a_paper_claims_cpu.tsv")


def _trainlens(args: list[str], log: Path) -> float:
    start = time.perf_counter()
    with log.open("a") as handle:
        done = subprocess.run([sys.executable, "-m", "trainlens.cli", *args], cwd=REPO,
                              stdout=handle, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise RuntimeError(f"trainlens {args[0]} failed (exit {done.returncode}); see {log}")
    return time.perf_counter() - start


def e1a_claims(device: torch.device, work: Path, log: Path) -> tuple[pd.DataFrame, dict]:
    """Train and measure E1a at paper scale on ``device``; its claims table and timings."""
    from trainlens.claims import ClaimSet, run_claims
    from trainlens.cli import load_module
    from trainlens.experiments.loading import load_experiments
    from trainlens.tables import concat_tables, read_table

    (group,) = [g for g in load_experiments(REPO / "experiments" / "loukas2021.yaml", "paper")
                if g.experiment == "e1a"]
    (work / "config.json").write_text(json.dumps(group.config))
    common = ["--config", str(work / "config.json"), "--data-root", str(REPO / "data"),
              "--device", str(device), "--threads", "1"]
    seconds = {"train_s": _trainlens(
        ["train", *common, "--runs", str(work / "runs.parquet"), "--metrics",
         str(work / "train_metrics.parquet"), "--checkpoints", str(work / "checkpoints"),
         "--trace", str(work / "trace.npz")], log)}
    seconds["measure_s"] = _trainlens(
        ["measure", *common, "--checkpoints", str(work / "checkpoints"), "--out",
         str(work / "probe_metrics.parquet")], log)
    module = load_module(REPO / "analysis" / "loukas2021" / "claims.py")
    chosen = ClaimSet(module.claims.paper)
    chosen.claims = {k: copy.copy(v) for k, v in module.claims.claims.items() if k in E1A_CLAIMS}
    metrics = concat_tables([work / "train_metrics.parquet", work / "probe_metrics.parquet"],
                            "metrics")
    table = run_claims(chosen, read_table(work / "runs.parquet", "runs"), metrics, "paper")
    return table, seconds


def side_by_side(device_table: pd.DataFrame, cpu_table: pd.DataFrame | None,
                 device: str) -> str:
    """Markdown: claim, verdict and value on the device, and on the CPU where known."""
    lines = [f"| claim | {device} verdict | {device} value | CPU verdict | CPU value |",
             "|---|---|---|---|---|"]
    cpu = {} if cpu_table is None else {r.claim_id: r for r in cpu_table.itertuples()}
    for row in device_table.itertuples():
        other = cpu.get(row.claim_id)
        lines.append(f"| {row.claim_id} | {row.passed or '-'} | {row.value} | "
                     f"{(other.passed or '-') if other is not None else 'not run'} | "
                     f"{other.value if other is not None else ''} |")
    return "\n".join(lines)


def run(device: torch.device, out: Path) -> str:
    """The section's markdown; the claims table is written to ``out/e1a_claims.tsv``."""
    log = out / "e1a.log"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            table, seconds = e1a_claims(device, Path(tmp), log)
    except RuntimeError as error:
        return str(error)
    table.to_csv(out / "e1a_claims.tsv", sep="\t", index=False)
    cpu = (pd.read_csv(E1A_CPU_CLAIMS, sep="\t", keep_default_na=False)
           if E1A_CPU_CLAIMS.is_file() else None)
    return (f"`trainlens train` {seconds['train_s']:.0f} s (compile included), `trainlens "
            f"measure` {seconds['measure_s']:.0f} s on {device}.\n\n"
            + side_by_side(table, cpu, str(device)))
