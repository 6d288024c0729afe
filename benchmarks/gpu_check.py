"""``python -m benchmarks.gpu_check --device cuda --out $OUT``: the GPU path, measured in one go.

Sections (``--sections``, in this order; each writes its tables as soon as it ends, so a run
stopped at its time limit still leaves what it measured):

- ``cost``: every paper-scale training group timed through its own engine for ``--steps`` steps
  after ``--warmup`` steps and scaled to its full length (``benchmarks.cost``): device hours per
  group, per paper and for ``figures/all`` on one device, against the 6-hour target, with each
  group's peak device memory. Image sets that were never downloaded are random stand-ins of the
  same shape (``benchmarks.stand_in``), named in the table.
- ``determinism``: one group of each engine trained twice with deterministic kernels, in fresh
  processes, tables and checkpoints compared (``benchmarks.determinism``).
- ``benchmarks``: ``python -m benchmarks --quick --device <dev>``, every ratio case and E1a at
  paper configuration (the smoke workflow case is a 2-core CPU build and is left out).
- ``e1a`` (only when named): loukas2021 E1a at paper scale end to end (``benchmarks.e1a_check``).

Every clock read follows a device synchronize, and TF32 is off (``trainlens.devices``), as in
every benchmark. On the CPU, memory peaks read n/a. Writes ``gpu_check.md`` (everything),
``cost.tsv`` and ``determinism.tsv`` under ``--out``; the benchmark runner writes
``benchmarks.md`` and its log there.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from benchmarks import cost, determinism
from benchmarks.stand_in import stand_in_data
from trainlens.devices import DeviceError, select_device
from trainlens.provenance import git_commit, versions

REPO = Path(__file__).resolve().parents[1]
PAPERS = ("loukas2021", "dherin2022", "fort2019", "nakazato2024")
SECTIONS = ("cost", "determinism", "benchmarks", "e1a")
RATIO_CASES = ("ensemble_training", "geometric_complexity", "stiffness", "e1a_paper")
TARGET_HOURS = 6.0  # the target: all four papers at paper scale on one H200
GIB = 2**30


def _groups(papers: list[str], pattern: str | None) -> list[Any]:
    from trainlens.experiments.loading import load_experiments

    chosen = []
    for paper in papers:
        for group in load_experiments(REPO / "experiments" / f"{paper}.yaml", "paper"):
            if pattern is None or re.search(pattern, f"{paper}/{group.group_id}"):
                chosen.append(group)
    return chosen


def _time_one(args: argparse.Namespace, device: torch.device, group: Any, compile: bool
              ) -> dict[str, Any]:
    used: set[str] = set()
    start = time.monotonic()
    row: dict[str, Any] = {}
    try:
        with stand_in_data(args.data_root, used):
            row.update(cost.time_group(group.config, args.data_root, device, args.warmup,
                                       args.steps, args.data_cap, compile))
    except Exception as error:  # noqa: BLE001 - one group's failure is a row, not the end
        row["error"] = f"{type(error).__name__}: {error}".splitlines()[0][:200]
    row["stand_in"] = ", ".join(sorted(used))
    row["wall_s"] = time.monotonic() - start
    print(f"[cost] {group.paper}/{group.group_id}{' compiled' if compile else ''}: "
          f"{row.get('per_step_s', float('nan')):.3g} s/step, {row.get('error', 'ok')}",
          file=sys.stderr, flush=True)
    return row


def cost_rows(args: argparse.Namespace, device: torch.device, stop_at: float
              ) -> list[dict[str, Any]]:
    """One row per paper-scale group; groups left when ``stop_at`` passes are listed untimed.

    Every group is timed eagerly first; then, while time is left, the groups whose config
    compiles are timed again compiled, costliest first (a cold compile costs up to a minute
    each), and their rows replaced, the eager time kept beside (an upper bound where the
    compiled one is missing)."""
    groups = _groups(args.papers, args.groups)
    rows = []
    for group in groups:
        row: dict[str, Any] = {"paper": group.paper, "group": group.group_id,
                               "members": len(group.config["members"])}
        if time.monotonic() > stop_at:
            row["error"] = "not timed: the cost section's time was up"
        else:
            row.update(_time_one(args, device, group, compile=False))
        rows.append(row)
    if args.no_compile:
        return rows
    candidates = [(group, row) for group, row in zip(groups, rows)
                  if "error" not in row and group.config["train"].get("compile")]
    # the costliest first: where time runs out, the cheap groups stay eager (an upper bound)
    for group, row in sorted(candidates, key=lambda pair: -pair[1]["total_s"]):
        if time.monotonic() > stop_at:
            row["note"] = "eager: no time left to time it compiled"
            continue
        compiled = _time_one(args, device, group, compile=True)
        if "error" in compiled:
            row["note"] = f"eager: compiled failed ({compiled['error']})"
            continue
        row.update({**compiled, "eager_per_step_s": row["per_step_s"]})
    return rows


def _hours(row: dict[str, Any]) -> float:
    return row.get("total_s", float("nan")) / 3600


def cost_tables(rows: list[dict[str, Any]], device: torch.device, complete: bool) -> str:
    """Markdown: per group, then per paper and the total against the target."""
    lines = ["| paper | group | engine | members | steps (full) | s/step | hours | setup s "
             "(here) | peak GiB (capped data) | + full data GiB | stand-in data | note |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['paper']} | {r['group']} | | {r['members']} | | | | | | | "
                         f"{r.get('stand_in', '')} | {r['error']} |")
            continue
        peak = "n/a" if r["peak_bytes"] is None else f"{r['peak_bytes'] / GIB:.2f}"
        where = "CPU (the engine ignores the device)" if r["cpu_only"] else str(device)
        note = f"{where}; {r['parts']} sub-ensemble(s)"
        if r["compiled"]:
            note += f"; compiled (eager {r['eager_per_step_s']:.4g} s/step)"
        if r.get("note"):
            note += f"; {r['note']}"
        lines.append(f"| {r['paper']} | {r['group']} | {r['engine']} | {r['members']} | "
                     f"{r['total_steps']:,} | {r['per_step_s']:.4g} | {_hours(r):.3f} | "
                     f"{r['setup_s']:.1f} | {peak} | {r['data_bytes'] / GIB:.2f} | "
                     f"{r.get('stand_in') or '-'} | {note} |")
    frame = pd.DataFrame([r for r in rows if "error" not in r])
    lines += ["", "| paper | groups timed | groups not timed | device hours | CPU-only hours |",
              "|---|---|---|---|---|"]
    device_total = cpu_total = 0.0
    for paper in dict.fromkeys(r["paper"] for r in rows):
        part = frame[frame["paper"] == paper] if len(frame) else frame
        on_device = part[~part["cpu_only"]]["total_s"].sum() / 3600 if len(part) else 0.0
        on_cpu = part[part["cpu_only"]]["total_s"].sum() / 3600 if len(part) else 0.0
        missing = sum(1 for r in rows if r["paper"] == paper and "error" in r)
        device_total, cpu_total = device_total + on_device, cpu_total + on_cpu
        lines.append(f"| {paper} | {len(part)} | {missing} | {on_device:.2f} | {on_cpu:.2f} |")
    lines.append(f"| **figures/all, one {device.type.upper()} device** | | | "
                 f"**{device_total:.2f}** | {cpu_total:.2f} |")
    verdict = "within" if device_total <= TARGET_HOURS else "**over**"
    if not complete or any("error" in r for r in rows):
        verdict = "(a partial sum: not every paper-scale group was timed) against"
    lines += ["", f"Training steps alone on {device}: {device_total:.2f} device hours, {verdict} "
              f"the target of {TARGET_HOURS:g} hours for all four papers on one H200 (the "
              "target is for an H200; the measure stage, periodic logs and checks and job "
              "start-up are not included, see `benchmarks/cost.py`). CPU-only groups "
              f"(nakazato2024's closed-form trainer) add {cpu_total:.2f} CPU hours, one core "
              "each, run beside the device jobs."]
    return "\n".join(lines)


def determinism_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| paper | experiment | engine | members | metric values | bitwise | max abs diff "
             "| checkpoint tensors | bitwise | max abs diff | run s | stand-in data | error |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = [r["paper"], r["experiment"], r["engine"], r["members"],
                 r.get("metric_values", ""), r.get("metrics_bitwise", ""),
                 f"{r['metrics_max_abs_diff']:.3g}" if "metrics_max_abs_diff" in r else "",
                 r.get("checkpoint_tensors", ""), r.get("checkpoints_bitwise", ""),
                 f"{r['checkpoints_max_abs_diff']:.3g}" if "checkpoints_max_abs_diff" in r
                 else "", r.get("run_s", ""), r.get("stand_in") or "-", r.get("error", "")]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def run_benchmarks(device: torch.device, out: Path, timeout_s: float) -> str:
    """The benchmark runner in its own process (it sets its own thread counts)."""
    log = out / "benchmarks.log"
    command = [sys.executable, "-m", "benchmarks", "--quick", "--device", str(device),
               "--cases", *RATIO_CASES, "--out", str(out / "benchmarks.md")]
    try:
        with log.open("w") as handle:
            done = subprocess.run(command, cwd=REPO, stdout=handle, stderr=subprocess.STDOUT,
                                  timeout=max(timeout_s, 1))
    except subprocess.TimeoutExpired:
        return f"`python -m benchmarks --quick` stopped after {timeout_s:.0f} s (see {log.name})"
    if done.returncode != 0:
        return f"`python -m benchmarks --quick` failed (exit {done.returncode}; see {log.name})"
    return (out / "benchmarks.md").read_text().split("\n", 2)[2].strip()


def _header(args: argparse.Namespace, device: torch.device) -> str:
    card = (f"{torch.cuda.get_device_name(device)}, CUDA {torch.version.cuda}"
            if device.type == "cuda" else f"{os.cpu_count()} CPU cores")
    return (f"# GPU check\n\nMeasured {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC "
            f"on {platform.node()} ({card}), device {device}, Python "
            f"{platform.python_version()}, torch {versions()['torch']}, commit "
            f"`{git_commit()}`. Settings: {args.warmup} warm-up + {args.steps} timed steps per "
            f"group, image sets capped at {args.data_cap or 'no'} training images per member, "
            f"compile {'off' if args.no_compile else 'as configured'}, TF32 off.\n")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu_check")))
    parser.add_argument("--sections", nargs="+", default=list(SECTIONS[:3]), choices=SECTIONS)
    parser.add_argument("--papers", nargs="+", default=list(PAPERS), choices=PAPERS)
    parser.add_argument("--groups", help="regex on '<paper>/<group id>' (default: every group)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (>= 1)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per group")
    parser.add_argument("--data-cap", type=int, default=1024,
                        help="training images per member of image sets while timing (0: all)")
    parser.add_argument("--no-compile", action="store_true", help="time every group eagerly")
    parser.add_argument("--tiny-determinism", action="store_true",
                        help="determinism on tiny slices (CPU tests)")
    parser.add_argument("--data-root", type=Path, default=REPO / "data")
    parser.add_argument("--cost-budget-s", type=float, default=200.0,
                        help="seconds after which the cost section times no further group")
    parser.add_argument("--benchmarks-budget-s", type=float, default=170.0,
                        help="the benchmark runner is stopped after this (or the deadline)")
    parser.add_argument("--deadline-s", type=float, default=450.0,
                        help="the whole check's time: the benchmark runner gets what is left")
    args = parser.parse_args(argv)
    if args.warmup < 1 or args.steps < 1:
        parser.error("--warmup and --steps must be >= 1")
    return args


def main(argv: list[str] | None = None) -> Path:
    args = parse(argv)
    try:
        device = select_device(args.device)
    except DeviceError as error:
        sys.exit(f"gpu_check: --device: {error}")
    torch.set_num_threads(1)  # as a training job (rules/train.smk: threads 1)
    started = time.monotonic()
    args.out.mkdir(parents=True, exist_ok=True)
    report = args.out / "gpu_check.md"
    parts = [_header(args, device)]

    def write(title: str, body: str) -> None:
        parts.append(f"## {title}\n\n{body}\n")
        report.write_text("\n".join(parts))

    write("Sections", ", ".join(args.sections))
    if "cost" in args.sections:
        rows = cost_rows(args, device, time.monotonic() + args.cost_budget_s)
        pd.DataFrame(rows).to_csv(args.out / "cost.tsv", sep="\t", index=False)
        complete = args.groups is None and len(args.papers) == len(PAPERS)
        write("Paper-scale cost (training steps)", cost_tables(rows, device, complete))
    if "determinism" in args.sections:
        rows = determinism.run(str(device), args.data_root, args.tiny_determinism)
        pd.DataFrame(rows).to_csv(args.out / "determinism.tsv", sep="\t", index=False)
        write("Determinism (deterministic kernels, two fresh processes)",
              determinism_table(rows))
    if "benchmarks" in args.sections:
        write("Benchmarks (`python -m benchmarks --quick`)",
              run_benchmarks(device, args.out, min(args.benchmarks_budget_s, args.deadline_s
                                                   - (time.monotonic() - started))))
    if "e1a" in args.sections:
        from benchmarks import e1a_check

        write("loukas2021 E1a at paper scale, end to end", e1a_check.run(device, args.out))
    print(report.read_text())
    return report


if __name__ == "__main__":
    main()
