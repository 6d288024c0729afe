"""``python -m benchmarks [--quick] [--device cuda]``: run every case, print the table, write
RESULTS.md.

Timing lives here, not in the tests: every number is a ratio measured side by side in one run,
printed next to its baseline, or a wall time against its budget (wall_time.py). ``--device``
runs baseline and trainlens of each case on that device (TF32 off, as every trainlens job); the
smoke workflow stays a 2-core CPU build.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
from pathlib import Path

import torch

from benchmarks import ensemble_training, geometric_complexity, stiffness, wall_time
from trainlens.devices import DeviceError, select_device
from trainlens.provenance import git_commit, versions

CASES = {"ensemble_training": ensemble_training.run,
         "geometric_complexity": geometric_complexity.run,
         "stiffness": stiffness.run,
         "e1a_paper": wall_time.e1a_paper,
         "smoke_workflow": wall_time.smoke_workflow}


def _met(row: dict) -> bool:
    """A ratio case (``target``: speed-up over its baseline) or a budget case (``budget_s``)."""
    if row.get("budget_s") is not None:
        return row["trainlens_s"] <= row["budget_s"]
    return row["ratio"] >= row["target"]


def table(rows: list[dict]) -> str:
    lines = ["| case | baseline (s) | trainlens (s) | ratio | target | met | note |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        met = "yes" if _met(r) else "**no**"
        if r.get("budget_s") is not None:
            baseline, ratio, target = "-", "-", f"<= {r['budget_s']:g} s"
        else:
            baseline, ratio = f"{r['baseline_s']:.4g}", f"{r['ratio']:.1f}x"
            target = f">= {r['target']:g}x"
        lines.append(f"| {r['case']} | {baseline} | {r['trainlens_s']:.4g} | {ratio} | {target} "
                     f"| {met} | {r['note']} |")
    return "\n".join(lines)


def _processor() -> str:
    """The CPU model (platform.processor() is empty on most Linux systems)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "cpu"


def _hardware(device: torch.device) -> str:
    cpu = f"{os.cpu_count()} CPU cores, {_processor()}"
    if device.type == "cuda":
        return f"{cpu}; {torch.cuda.get_device_name(device)}, CUDA {torch.version.cuda}"
    return cpu


def main() -> None:
    parser = argparse.ArgumentParser(
        description="run every benchmark case, print the table, write RESULTS.md")
    parser.add_argument("--quick", action="store_true", help="shorter runs (noisier)")
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    parser.add_argument("--out", default=str(Path(__file__).parent / "RESULTS.md"))
    args = parser.parse_args()
    try:
        device = select_device(args.device)
    except DeviceError as error:
        parser.error(f"--device: {error}")  # one line and exit 2, as the trainlens command
    rows = [row for name in args.cases for row in CASES[name](quick=args.quick, device=device)]
    header = (f"Measured {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC on "
              f"{platform.node()} ({_hardware(device)}), device {device}, Python "
              f"{platform.python_version()}, torch {versions()['torch']}, commit `{git_commit()}`.")
    text = f"# Benchmarks\n\n{header}\n\n{table(rows)}\n"
    print(text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
