"""``python -m benchmarks [--quick]``: run every case, print the table, write RESULTS.md.

Timing lives here, not in the tests: every number is a ratio measured side by side in one run,
printed next to its baseline.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
from pathlib import Path

from benchmarks import ensemble_training, geometric_complexity, stiffness
from trainlens.provenance import git_commit, versions

CASES = {"ensemble_training": ensemble_training.run,
         "geometric_complexity": geometric_complexity.run,
         "stiffness": stiffness.run}


def table(rows: list[dict]) -> str:
    lines = ["| case | baseline (s) | trainlens (s) | ratio | target | met | note |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        met = "yes" if r["ratio"] >= r["target"] else "**no**"
        lines.append(f"| {r['case']} | {r['baseline_s']:.4g} | {r['trainlens_s']:.4g} | "
                     f"{r['ratio']:.1f}x | >= {r['target']:g}x | {met} | {r['note']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (noisier)")
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("--out", default=str(Path(__file__).parent / "RESULTS.md"))
    args = parser.parse_args()
    rows = [row for name in args.cases for row in CASES[name](quick=args.quick)]
    header = (f"Measured {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC on "
              f"{platform.node()} ({os.cpu_count()} CPU cores, {platform.processor() or 'cpu'}), "
              f"torch {versions()['torch']}, commit `{git_commit()}`.")
    text = f"# Benchmarks\n\n{header}\n\n{table(rows)}\n"
    print(text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
