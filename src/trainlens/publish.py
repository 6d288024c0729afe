"""Publish one scale's build as the replication record: ``replication/<scale>/``.

What a citing researcher needs of a build, committed to the repository: every paper's
``claims.tsv``, ``REPORT.md`` and PNG figures, and one ``MANIFEST.json`` with the commit that
built them, the package versions, the machine, the wall time of every timed job and the sha256
of every published file (``trainlens publish``; README "The replication record"). PDFs, tables
and checkpoints stay in results/ and figures/: they are large and rebuilt by the same commit.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from trainlens.io import atomic_write_text
from trainlens.provenance import versions
from trainlens.report import sha256


def machine() -> dict[str, str | int | float]:
    """The machine that ran the build: a timing is evidence only with the machine named."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                      if line.startswith("model name")), "")
    memory_gib = 0.0
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        total_kib = next(int(line.split()[1]) for line in meminfo.read_text().splitlines()
                         if line.startswith("MemTotal"))
        memory_gib = round(total_kib / 2**20, 1)
    return {"platform": platform.platform(), "processor": model or platform.processor(),
            "cpu_cores": os.cpu_count() or 0, "memory_gib": memory_gib}


def job_times(results: Path) -> list[dict[str, str | float]]:
    """Wall time and peak memory of every job with a Snakemake ``benchmark:`` file (training and
    probe jobs: the ones that cost minutes), from results/<scale>/<paper>/benchmarks/<rule>/."""
    jobs = []
    for path in sorted(results.glob("*/benchmarks/*/*.tsv")):
        row = pd.read_csv(path, sep="\t").iloc[-1]
        # cpu_time: the job's own CPU seconds, which other work on the machine does not inflate
        jobs.append({"paper": path.parents[2].name, "rule": path.parent.name, "job": path.stem,
                     "wall_s": round(float(row["s"]), 1),
                     "cpu_time_s": round(float(row.get("cpu_time", float("nan"))), 1),
                     "max_rss_mb": float(row["max_rss"])})
    return jobs


def build_commit(claims_tables: list[Path]) -> str:
    """The commit that built the tables (claims.tsv's git_commit column): one, or it stops."""
    commits = {c for path in claims_tables
               for c in pd.read_csv(path, sep="\t", dtype=str)["git_commit"].dropna()}
    if len(commits) != 1:
        raise SystemExit(f"trainlens publish: the claims tables come from {len(commits)} commits "
                         f"({', '.join(sorted(commits))}); rebuild the scale with one commit")
    return commits.pop()


def tables_commits(results: Path, papers: list[str]) -> list[str]:
    """The commits that trained the runs (runs.parquet's git_commit column), sorted."""
    commits: set[str] = set()
    for paper in papers:
        path = results / paper / "tables" / "runs.parquet"
        if path.exists():
            commits |= set(pd.read_parquet(path, columns=["git_commit"])["git_commit"].dropna())
    return sorted(commits)


def publish(root: Path, scale: str, papers: list[str], out: Path,
            build_wall_s: float | None = None) -> Path:
    """Copy each paper's claims.tsv, REPORT.md and PNGs of ``scale`` into ``out/<paper>/`` and
    write ``out/MANIFEST.json``; returns the manifest path. Missing files stop with one line."""
    results, plots = root / "results" / scale, root / "figures" / scale
    sources: dict[str, list[Path]] = {}
    for paper in papers:
        files = [results / paper / "claims.tsv", plots / paper / "REPORT.md",
                 *sorted((plots / paper).glob("*.png"))]
        missing = [str(f.relative_to(root)) for f in files if not f.exists()]
        if missing or len(files) == 2:
            raise SystemExit(f"trainlens publish: {paper} has no complete {scale} build (missing "
                             f"{', '.join(missing) or 'figures'}); run: snakemake --cores 2 "
                             f"figures/all --config scale={scale}")
        sources[paper] = files
    if out.exists():
        shutil.rmtree(out)  # a record is one build: no file of an earlier build may remain
    published = []
    for paper, files in sources.items():
        (out / paper).mkdir(parents=True)
        for source in files:
            shutil.copyfile(source, out / paper / source.name)
            published.append(out / paper / source.name)
    jobs = job_times(results)
    manifest = {
        "scale": scale,
        "command": f"snakemake --cores {os.cpu_count()} figures/all --config scale={scale}",
        # the claims, figures and reports; training tables may come from an earlier commit
        # whose science is the same (their own git_commit column says which)
        "commit": build_commit([out / paper / "claims.tsv" for paper in papers]),
        "tables_commits": tables_commits(results, papers),
        "published_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "versions": versions(),
        "machine": machine(),
        "build_wall_s": build_wall_s,
        "timed_jobs_wall_s": round(sum(j["wall_s"] for j in jobs), 1),
        "per_paper": {paper: {
            "jobs_wall_s": round(sum(j["wall_s"] for j in jobs if j["paper"] == paper), 1),
            "jobs_cpu_time_s": round(sum(j["cpu_time_s"] for j in jobs if j["paper"] == paper), 1)}
            for paper in papers},
        "jobs": jobs,
        "files": {str(p.relative_to(out)): sha256(p) for p in sorted(published)},
    }
    return atomic_write_text(out / "MANIFEST.json", json.dumps(manifest, indent=1) + "\n")
