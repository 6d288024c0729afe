"""The paper report (figures/<slug>/REPORT.md) and the manifest of everything built (figures/all).

Every number in the report comes from claims.tsv; the only hand-written text is the paper's
``analysis/<slug>/notes.md`` (what is reconstructed, deviations from the paper), which holds no
results.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pandas as pd

from trainlens.claims import stops_the_build
from trainlens.io import atomic_write_text
from trainlens.listing import failed_with_observed
from trainlens.plotting import FigureSet
from trainlens.provenance import git_commit, versions
from trainlens.tables import read_table

VERDICT_MARK = {"PASS": "PASS", "FAIL": "**FAIL**", "": "not evaluated"}


def claims_of_figure(claims: pd.DataFrame, stem: str) -> pd.DataFrame:
    """The rows of the claims a figure supports (a claim's ``figure`` may list several)."""
    return claims[[stem in figures.split("; ") for figures in claims["figure"]]]


def _claims_table(rows: pd.DataFrame) -> str:
    lines = ["| claim | statement | statistic | threshold | verdict | gating | note |",
             "|---|---|---|---|---|---|---|"]
    for row in rows.itertuples():
        cells = [row.claim_id, row.statement, row.value or row.statistic, row.threshold or "–",
                 VERDICT_MARK.get(row.passed, row.passed), row.gating or "–", row.reason or ""]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def write_report(paper: str, title: str, figure_set: FigureSet, claims: pd.DataFrame,
                 notes_path: str | Path, figure_paths: dict[str, str | Path], scale: str,
                 out: str | Path, tiny_slice: bool = False) -> Path:
    """REPORT.md: summary counts, every claim, every figure with the claims it supports.
    ``tiny_slice``: the tables come from ``slice=True`` jobs, and the report says so first."""
    out = Path(out)
    evaluated = claims[claims["passed"] != ""]
    n_pass = int((evaluated["passed"] == "PASS").sum())
    gating_fail = [row["claim_id"] for _, row in claims.iterrows() if stops_the_build(row)]
    commit = git_commit()
    parts = [
        f"# {paper}: regenerated figures and claim checks",
        "",
        f"*{title}*",
        "",
        f"Scale **{scale}** · trainlens {versions()['trainlens']} · commit `{commit}` · "
        f"torch {versions()['torch']}",
        "",
        f"**Claims: {n_pass} PASS, {len(evaluated) - n_pass} FAIL, "
        f"{len(claims) - len(evaluated)} not evaluated** (of {len(claims)} in the protocol)."
        + (f" Gating claims that FAIL: {', '.join(gating_fail)}." if gating_fail else ""),
        "",
        *(["**TINY SLICE: every job ran one epoch on a few points (`slice=True`) to check that "
            "the commands run. Nothing here is a replication result; do not cite it.**", ""]
          if tiny_slice else []),
        "A FAIL is a result, reported with its statistic; thresholds are the protocol's "
        f"(docs/protocols/{paper}.md §6), fixed before any run. Figures whose id starts with "
        "`figR` are reconstructions (the paper's figure number was not recovered); `figX` "
        "figures are suite extensions.",
        "",
        "## Claims",
        "",
        _claims_table(claims),
        "",
        *why_they_fail(claims, scale),
        "## Figures",
    ]
    for stem, spec in figure_set.figures.items():
        if stem not in figure_paths:
            continue
        png = os.path.relpath(figure_paths[stem], out.parent)
        parts += ["", f"### {stem}", "", f"![{stem}]({png})", "", spec.full_caption, ""]
        supported = claims_of_figure(claims, stem)
        parts.append(_claims_table(supported) if len(supported) else "No claim uses this figure.")
    parts += ["", Path(notes_path).read_text().strip(), "",
              "## How to cite this figure", "",
              f"Cite the paper ({title}) for the science and trainlens {versions()['trainlens']} "
              f"at commit `{commit}` for the regenerated figure.", ""]
    return atomic_write_text(out, "\n".join(parts))


def why_they_fail(claims: pd.DataFrame, scale: str) -> list[str]:
    """'What failed, and why': per FAIL, its statement, each failed criterion with the value
    observed, and the known cause at this scale where the protocol knows one (else: the result)."""
    failed = claims[claims["passed"] == "FAIL"]
    if failed.empty:
        return []
    lines = ["## What failed, and why", ""]
    for _, row in failed.iterrows():
        gates = "gating" if row["gating"] == "yes" else "non-gating"
        cause = (f"Known cause at {scale} scale: {row['known_cause']}" if row["known_cause"] else
                 f"No known cause: at {scale} scale this is the result.")
        lines.append(f"- **{row['claim_id']}** ({gates}): {row['statement']} Failed: "
                     + "; ".join(failed_with_observed(row.to_dict())) + f". {cause}")
    return [*lines, ""]


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(paths: list[str | Path], out: str | Path) -> Path:
    """figures/all: one line per figure and report built, ``path<TAB>sha256``, sorted."""
    lines = ["path\tsha256"] + [f"{p}\t{sha256(p)}" for p in sorted(map(str, paths))]
    return atomic_write_text(out, "\n".join(lines) + "\n")


def gating_failures(claims_tables: list[str | Path]) -> list[str]:
    """``paper:Cn (reason)`` for every gating claim that failed, across the given claims.tsv."""
    failed = []
    for path in claims_tables:
        table = read_table(path, "claims")
        for _, row in table.iterrows():
            if stops_the_build(row):
                failed.append(f"{row['paper']}:{row['claim_id']} ({row['reason']})")
    return failed


def figure_labels(claims_path: str | Path, stem: str) -> dict[str, str]:
    """Labels of one figure in ``snakemake --report``: the same two for every figure (its stem,
    and its claims with their verdicts, ``C1 PASS · C3 FAIL``), so that the report's table of
    figures has two full columns; statistics and thresholds are in the verdict summary."""
    if not Path(claims_path).exists():
        return {"figure": stem, "claims": "not checked yet"}
    rows = claims_of_figure(read_table(claims_path, "claims"), stem)
    verdicts = [f"{row.claim_id} {row.passed or 'not evaluated'}" for row in rows.itertuples()]
    return {"figure": stem, "claims": " · ".join(verdicts) or "none"}


RELATIVE_LINK = re.compile(r"(\]\()(?![a-z][a-z0-9+.-]*:|/|#)")


def relink_markdown(text: str, prefix: str) -> str:
    """Markdown whose relative link and image targets (``](figX01.png)``) start with ``prefix``,
    so that a copy of a report in another folder still shows its figures; absolute URLs, rooted
    paths and anchors stay as they are."""
    return RELATIVE_LINK.sub(lambda m: m.group(1) + prefix, text)
