"""``trainlens list``: papers, experiments, figures and claims, with their status from the last
build of the scale asked for (read from figures/<scale>/ and results/<scale>/; nothing is run)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from trainlens.claims import claim_number
from trainlens.config import load_experiments
from trainlens.tables import read_table


def _claims(root: Path, scale: str, paper: str) -> pd.DataFrame | None:
    path = root / "results" / scale / paper / "claims.tsv"  # that scale's own table, no other
    return read_table(path, "claims") if path.exists() else None


def listing(root: str | Path, scale: str) -> str:
    """A plain-text overview of everything the workflow at ``root`` builds at ``scale``."""
    from trainlens.cli import load_module

    root = Path(root)
    lines = []
    for experiments_file in sorted((root / "experiments").glob("*.yaml")):
        document = yaml.safe_load(experiments_file.read_text())
        if "experiments" not in document:
            continue  # config.yaml
        paper = document["paper"]
        groups = load_experiments(experiments_file, scale)
        lines += [f"{paper}: {document.get('title', '')}", f"  experiments ({scale} scale):"]
        for name in document["experiments"]:
            mine = [g for g in groups if g.experiment == name]
            runs = sum(len(g.run_ids) for g in mine)
            lines.append(f"    {name:<8} {len(mine)} training job(s), {runs} run(s)")
        figures = load_module(root / "analysis" / paper / "figures.py").figures.figures
        lines.append("  figures:")
        for stem, spec in figures.items():
            built = (root / "figures" / scale / paper / f"{stem}.png").exists()
            lines.append(f"    {stem:<36} {'built' if built else 'not built'} ({spec.kind})")
        claims = _claims(root, scale, paper)
        declared = load_module(root / "analysis" / paper / "claims.py").claims.claims
        lines.append("  claims" + ("" if claims is not None else " (not checked yet)") + ":")
        verdicts = {} if claims is None else claims.set_index("claim_id").to_dict("index")
        for claim_id in sorted(declared, key=claim_number):
            row = verdicts.get(claim_id)
            status = "-" if row is None else (row["passed"] or "not evaluated")
            detail = "" if row is None else f" {row['value'] or row['reason']}"
            lines.append(f"    {claim_id:<4} {status:<13}{detail}"[:160])
    return "\n".join(lines)
