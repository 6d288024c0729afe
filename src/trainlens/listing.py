"""``trainlens list``: papers, experiments, figures and claims, with their status from the last
build of the scale asked for (read from figures/<scale>/ and results/<scale>/; nothing is run).

It reads files only (YAML, the text of ``analysis/<slug>/*.py``, ``claims.tsv``) and imports
neither torch nor pandas nor the analysis modules, so that it answers in well under a second:
experiment sizes are counted from the grids as ``trainlens.experiments.resolving`` expands
them, figure stems and claim ids are read from the decorators' literal arguments, and verdicts,
gating and failed criteria from ``claims.tsv`` (tests/unit/test_listing.py checks all of it
against the imported registries).
"""

from __future__ import annotations

import ast
import csv
import json
import re
import shutil
import textwrap
from pathlib import Path
from typing import Any

import yaml

from trainlens.experiments.resolving import grid_points
from trainlens.experiments.scales import resolve_scale, runs_at
from trainlens.experiments.typed import ConfigError

# libyaml's parser where PyYAML has it: the pure-Python one takes most of a second for the four
# experiments files
SAFE_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
FIGURE_KINDS = {"figR": "reconstructed figure", "figX": "suite extension"}  # plotting.FigureSpec
NON_GATING = "(non-gating)"  # trainlens.claims.Criterion.text


def find_root(start: str | Path) -> Path:
    """The workflow folder that holds ``start`` (the first parent with a Snakefile and
    experiments/config.yaml), so that ``trainlens list`` works from any folder inside it."""
    start = Path(start).resolve()
    for folder in (start, *start.parents):
        if (folder / "Snakefile").is_file() and (folder / "experiments" / "config.yaml").is_file():
            return folder
    raise ConfigError(f"{start} is not inside a trainlens repository (no Snakefile and "
                      "experiments/config.yaml above it); run it there or pass --root")


def experiment_size(spec: dict[str, Any], scale: str) -> tuple[int, int]:
    """(training jobs, runs) of one experiment at ``scale``: runs = grid points x seeds, one job
    per distinct point of the keys not in ``ensemble_over`` (trainlens.experiments.resolving;
    ``grid_points`` gives the points of the experiment's ``design``)."""
    if not runs_at(spec, scale):
        return 0, 0
    resolved = resolve_scale(spec, scale)
    points = grid_points(resolved.get("grid", {}), resolved.get("design", "cartesian"),
                         "experiment")
    folded = set(resolved.get("ensemble_over", []))
    jobs = {json.dumps({k: v for k, v in point.items() if k not in folded}, sort_keys=True)
            for point, _ in points}
    return len(jobs), len(points) * len(resolved["seeds"])


def _first_literals(path: Path, pattern: str, method: str = "") -> list[str]:
    """First positional string arguments of the calls in ``path`` that match ``pattern``, in
    source order: ``@claims.claim("C1", ...)`` and helpers that register claims; with ``method``,
    only ``x.<method>(...)`` calls (``@figures.figure("figR01_...")``, not captions that name a
    stem)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        registering = isinstance(node, ast.Call) and node.args and (
            not method or isinstance(node.func, ast.Attribute) and node.func.attr == method)
        first = node.args[0] if registering else None
        if (isinstance(first, ast.Constant) and isinstance(first.value, str)
                and re.fullmatch(pattern, first.value)):
            found.append((node.lineno, first.value))
    return [value for _, value in sorted(found)]


def _registry_files(root: Path, paper: str, name: str) -> list[Path]:
    """``analysis/<paper>/<name>.py`` and its ``<name>_*.py`` parts, in name order: a registry
    split in parts registers them in that order (figures.py re-exports the set of its last
    part)."""
    return sorted((root / "analysis" / paper).glob(f"{name}*.py"))


def declared_figures(root: Path, paper: str) -> list[str]:
    """The figure stems that ``analysis/<paper>/figures.py`` registers (with its parts)."""
    return [stem for path in _registry_files(root, paper, "figures")
            for stem in _first_literals(path, r"fig[RX]?[0-9]{2}_\w+", "figure")]


def declared_claims(root: Path, paper: str) -> list[str]:
    """The claim ids that ``analysis/<paper>/claims.py`` registers (with its parts), in spec
    order."""
    ids = {claim_id for path in _registry_files(root, paper, "claims")
           for claim_id in _first_literals(path, r"C[0-9]+")}
    return sorted(ids, key=lambda c: int(c[1:]))


def _read_claims(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="") as handle:
        return {row["claim_id"]: row for row in csv.DictReader(handle, delimiter="\t")}


def _observed(row: dict[str, str]) -> dict[str, str]:
    """statistic name -> value as printed, from claims.tsv's value column (``a=1; b=2``)."""
    return dict(part.split("=", 1) for part in (row.get("value") or "").split("; ")
                if "=" in part)


def failed_with_observed(row: dict[str, str]) -> list[str]:
    """Each failed criterion of a claims.tsv row with the value observed, e.g.
    ``spearman_f_tau >= 0.5 (observed 0.02159)``: the reason lists the failed criteria, the value
    column the statistics (``trainlens.claims.evaluate``)."""
    observed = _observed(row)
    failed = [p[len("failed: "):] for p in (row.get("reason") or "").split("; ")
              if p.startswith("failed: ")]
    return [f"{c} (observed {observed.get(c.split()[0], 'none')})" for c in failed]


def claim_status(row: dict[str, str] | None) -> tuple[str, str, str]:
    """(gating mark, verdict, detail) of one claims.tsv row: a claim gates when one of its
    criteria at this scale does; a FAIL names the criteria that failed with the observed value."""
    if row is None:
        return " ", "-", "not checked yet"
    criteria = [c for c in (row.get("threshold") or "").split("; ") if c]
    mark = "*" if any(NON_GATING not in c for c in criteria) else " "
    verdict = row.get("passed") or "not evaluated"
    observed = _observed(row)
    if verdict == "FAIL":
        others = [p for p in (row.get("reason") or "").split("; ") if not p.startswith("failed: ")]
        detail = "; ".join(failed_with_observed(row))
        cause = [f"known cause: {row['known_cause']}"] if row.get("known_cause") else []
        return mark, verdict, "failed: " + "; ".join([detail, *others, *cause]).strip("; ")
    if verdict == "PASS":
        return mark, verdict, "; ".join(f"{c} (observed {observed.get(c.split()[0], 'none')})"
                                        for c in criteria)
    return mark, verdict, row.get("reason") or row.get("value") or ""


def _wrap(first: str, text: str, width: int) -> list[str]:
    """``first`` followed by ``text``, wrapped at word boundaries under its own column."""
    return textwrap.wrap(text, width, initial_indent=first, subsequent_indent=" " * len(first),
                         break_long_words=False, break_on_hyphens=False) or [first.rstrip()]


def _paper_lines(root: Path, document: dict[str, Any], scale: str, width: int) -> list[str]:
    paper = document["paper"]
    lines = _wrap(f"{paper}: ", document.get("title", ""), width)
    lines.append(f"  experiments ({scale} scale):")
    column = max(len(name) for name in document["experiments"]) + 2
    for name, spec in document["experiments"].items():
        jobs, runs = experiment_size(spec, scale)
        lines.append(f"    {name:<{column}}{jobs} training job(s), {runs} run(s)")
    lines.append("  figures:")
    stems = declared_figures(root, paper)
    column = max(map(len, stems), default=0) + 2
    for stem in stems:
        built = (root / "figures" / scale / paper / f"{stem}.png").exists()
        kind = FIGURE_KINDS.get(stem[:4], "paper figure")
        lines.append(f"    {stem:<{column}}{'built' if built else 'not built'} ({kind})")
    if not (root / "analysis" / paper / "claims.py").exists():  # a suite study: findings
        built = (root / "figures" / scale / paper / "REPORT.md").exists()
        return lines + [f"  findings (a suite study, no claims): figures/{scale}/{paper}/REPORT.md "
                        f"{'built' if built else 'not built'}"]
    path = root / "results" / scale / paper / "claims.tsv"  # that scale's own table only
    rows = _read_claims(path) if path.exists() else {}
    ids = sorted(set(declared_claims(root, paper)) | set(rows), key=lambda c: int(c[1:]))
    if not rows:
        return lines + _wrap("  claims (not checked yet): ", " ".join(ids), width)
    checked = ", ".join(sorted({row["scale"] for row in rows.values()}))
    lines.append(f"  claims (checked at {checked} scale; * = gating: gating claim):")
    for claim_id in ids:
        mark, verdict, detail = claim_status(rows.get(claim_id))
        lines += _wrap(f"    {claim_id:<4}{mark} {verdict:<14}", detail, width)
    return lines


def listing(root: str | Path, scale: str, width: int | None = None) -> str:
    """A plain-text overview of everything the workflow at ``root`` builds at ``scale``; lines
    are wrapped at ``width`` (default: the terminal's) between words, never cut."""
    root = Path(root)
    width = width or max(shutil.get_terminal_size((100, 24)).columns, 60)
    lines: list[str] = []
    for experiments_file in sorted((root / "experiments").glob("*.yaml")):
        document = yaml.load(experiments_file.read_text(), Loader=SAFE_YAML_LOADER)
        if isinstance(document, dict) and "experiments" in document:  # not config.yaml
            lines += _paper_lines(root, document, scale, width)
    return "\n".join(lines)
