"""Publish a suite study's build (the complexity atlas) as ``replication/<scale>/<study>/``.

A study is published on its own, next to the papers' record (``trainlens.publish``), because it
is built on its own (``snakemake figures/atlas/REPORT.md --config scale=cpu``): its REPORT.md and
PNGs, its tidy table (``<study>.parquet``: the numbers behind every finding, small enough to
commit) and a MANIFEST.json with the commit, versions, machine, job times and sha256 of each file.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from trainlens.io import atomic_write_text
from trainlens.provenance import versions
from trainlens.publish import job_times, machine
from trainlens.report import sha256


def study_sources(root: Path, scale: str, study: str) -> list[Path]:
    """The files of a study's build: report, figures and table; a missing one stops with a line
    that says how to build it."""
    results, plots = root / "results" / scale / study, root / "figures" / scale / study
    files = [plots / "REPORT.md", plots / "correlations.tsv",
             results / "tables" / f"{study}.parquet", *sorted(plots.glob("*.png"))]
    missing = [str(f.relative_to(root)) for f in files if not f.exists()]
    if missing or len(files) == 3:
        raise SystemExit(f"trainlens publish: the {study} study has no complete {scale} build "
                         f"(missing {', '.join(missing) or 'figures'}); run: snakemake --cores 2 "
                         f"figures/{study}/REPORT.md --config scale={scale}")
    return files


def publish_study(root: Path, scale: str, study: str, out: Path,
                  build_wall_s: float | None = None) -> Path:
    """Copy the study's build into ``out`` (replacing an earlier one) and write its manifest."""
    sources = study_sources(root, scale, study)
    if out.exists():
        shutil.rmtree(out)  # one build per record: nothing of an earlier one may remain
    out.mkdir(parents=True)
    for source in sources:
        shutil.copyfile(source, out / source.name)
    runs = pd.read_parquet(root / "results" / scale / study / "tables" / "runs.parquet",
                           columns=["git_commit"])
    jobs = [job for job in job_times(root / "results" / scale) if job["paper"] == study]
    manifest = {
        "study": study,
        "scale": scale,
        "command": f"snakemake --cores {os.cpu_count()} figures/{study}/REPORT.md "
                   f"--config scale={scale}",
        "tables_commits": sorted(set(runs["git_commit"].dropna())),
        "published_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "versions": versions(),
        "machine": machine(),
        "build_wall_s": build_wall_s,
        "jobs_wall_s": round(sum(j["wall_s"] for j in jobs), 1),
        "jobs_cpu_time_s": round(sum(j["cpu_time_s"] for j in jobs), 1),
        "jobs": jobs,
        "files": {p.name: sha256(out / p.name) for p in sorted(sources)},
    }
    return atomic_write_text(out / "MANIFEST.json", json.dumps(manifest, indent=1) + "\n")
