"""REPLICATION.md: every claim of the four protocols, with its verdict at each scale.

Written by ``trainlens replication`` (Snakemake rule ``replication_record``); nothing in it is
typed by hand. One row per claim: its statement, the paper's own words or number
(``Claim.paper_says``), the smoke verdict (the committed golden table
tests/golden/smoke/<paper>/claims.tsv, which CI's end-to-end test rebuilds and compares), the cpu
verdict with its statistic (the published build replication/cpu/<paper>/claims.tsv) and what is
known at paper scale. tests/unit/test_replication.py checks that the committed file is what this
module writes from the committed tables.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pandas as pd

from trainlens.claims import Claim, ClaimSet, claim_number
from trainlens.experiments.loading import load_experiments
from trainlens.io import atomic_write_text
from trainlens.report import VERDICT_MARK
from trainlens.verdicts import counts_text, verdict_counts

GOLDEN_SMOKE = "tests/golden/smoke/{paper}/claims.tsv"
# the published atlas (trainlens publish --study atlas): every pair's Spearman ρ per setting
ATLAS_CORRELATIONS = "replication/cpu/atlas/correlations.tsv"
PUBLISHED = "replication/{scale}/{paper}/claims.tsv"
HEADER = ("| Claim | Statement | The paper's words | Smoke | cpu (statistic) | Paper scale |\n"
          "|---|---|---|---|---|---|")


def cell(text: object) -> str:
    """A markdown table cell: pipes escaped, newlines flattened."""
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def verdict(row: pd.Series | None, with_statistic: bool) -> str:
    """PASS / **FAIL** (with its statistic and failed criteria) or 'not evaluated: why'."""
    if row is None:
        return "no table"
    if not row["passed"]:
        return f"not evaluated: {row['reason']}"
    gating = "" if row["gating"] == "yes" else " (non-gating)"
    mark = VERDICT_MARK[row["passed"]]
    if not with_statistic:
        return mark + gating
    failed = f"; {row['reason']}" if row["passed"] == "FAIL" and row["reason"] else ""
    if row["passed"] == "FAIL" and row.get("known_cause"):
        failed += f"; known cause: {row['known_cause']}"
    return f"{mark}{gating}: {row['value']}{failed}"


def read_claims(path: Path) -> dict[str, pd.Series]:
    """claims.tsv rows by claim id (empty when the table is not there)."""
    if not path.exists():
        return {}
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    return {row["claim_id"]: row for _, row in table.iterrows()}


def same_runs_at_cpu_and_paper(root: Path, paper: str) -> dict[str, bool]:
    """Experiment -> whether its cpu runs are exactly its paper-scale runs (same run ids: the
    same data, model, training and seeds; ``cpu: {}`` in experiments/<paper>.yaml)."""
    path = root / "experiments" / f"{paper}.yaml"
    runs: dict[str, dict[str, set[str]]] = {}
    for scale in ("cpu", "paper"):
        for group in load_experiments(path, scale):
            runs.setdefault(group.experiment, {}).setdefault(scale, set()).update(group.run_ids)
    # experiments that run at paper scale only: whether the cpu build ran them identically
    return {name: scales.get("cpu") == scales.get("paper") for name, scales in runs.items()
            if "paper" in scales}


def paper_status(claim: Claim, claims: ClaimSet, experiments: tuple[str, ...],
                 same: dict[str, bool]) -> str:
    """What the suite knows of a claim at paper scale (no paper-scale build is published yet)."""
    if claim.compute is None:
        return f"not built: {claim.not_built}"
    if "paper" not in claim.criteria:
        return "report only: no paper-scale threshold"
    if claim.claim_id in claims.not_run.get("cpu", {}):
        return "configured; not run yet (" + claims.not_run["cpu"][claim.claim_id] + ")"
    differing = [name for name in experiments if name in same and not same[name]]
    if not differing:
        return "the cpu build ran the paper-scale configuration: its verdict is the paper's"
    shown = ", ".join(differing[:3]) + (f" and {len(differing) - 3} more"
                                         if len(differing) > 3 else "")
    return f"not run yet: the cpu build ran other data or settings for {shown}"


def paper_rows(root: Path, paper: str, claims: ClaimSet,
               figure_experiments: dict[str, tuple[str, ...]]) -> list[str]:
    """The markdown rows of one paper's claims, in protocol order."""
    smoke = read_claims(root / GOLDEN_SMOKE.format(paper=paper))
    cpu = read_claims(root / PUBLISHED.format(scale="cpu", paper=paper))
    same = same_runs_at_cpu_and_paper(root, paper)
    rows = []
    for claim in sorted(claims.claims.values(), key=lambda c: claim_number(c.claim_id)):
        experiments = figure_experiments.get(claim.figure, ())
        rows.append("| " + " | ".join(cell(text) for text in (
            claim.claim_id, claim.statement, claim.paper_says or "—",
            verdict(smoke.get(claim.claim_id), with_statistic=False),
            verdict(cpu.get(claim.claim_id), with_statistic=True),
            paper_status(claim, claims, experiments, same))) + " |")
    return rows


def counts(table: dict[str, pd.Series]) -> str:
    """'n PASS · n FAIL · n not evaluated' of one claims table (the summary page's wording)."""
    return counts_text(verdict_counts(pd.DataFrame({"passed": [row["passed"] for row in
                                                               table.values()]})))


def _pairs(rows: pd.DataFrame, stats: ModuleType, names: tuple[str, ...] = ("a", "b")) -> str:
    """'a – b ρ = +0.98 [+0.93, +1.00]; ...' (or one name per row) for a cell."""
    return "; ".join(" – ".join(row[name] for name in names) + " ρ = "
                     + stats.rho_text(row["rho"], row["low"], row["high"])
                     for _, row in rows.iterrows()) or "none defined"


def atlas_section(root: Path, stats: ModuleType | None) -> list[str]:
    """The complexity atlas as a suite finding, apart from the claims: per setting, the three
    best predictors of the generalization gap and the three strongest and weakest agreements
    between measures (ρ with bootstrap 95% intervals, ``stats``: analysis/atlas/stats.py), read
    from the published correlations."""
    parts = ["", "## Suite finding: the complexity atlas (not a claim)", "",
             "Every measure of the four papers taken on the same networks "
             "(docs/protocols/atlas.md): findings with bootstrap intervals, no thresholds and "
             "no PASS/FAIL. Report: "
             "[replication/cpu/atlas/REPORT.md](replication/cpu/atlas/REPORT.md).", ""]
    path = root / ATLAS_CORRELATIONS
    if stats is None or not path.exists():
        return [*parts, "No cpu build of the atlas is published yet."]
    corr = pd.read_csv(path, sep="\t")
    best = stats.rank_predictors(corr, "gen_gap")
    extremes = stats.strongest_weakest(corr, 3)
    parts += ["| Setting | Best predictors of the gap (Spearman ρ [95% CI]) | Strongest "
              "agreements | Weakest agreements |", "|---|---|---|---|"]
    for setting in dict.fromkeys(corr["setting"]):
        top = best[(best["setting"] == setting) & best["rho"].notna()].head(3)
        strong, weak = extremes.get(setting, (pd.DataFrame(), pd.DataFrame()))
        parts.append("| " + " | ".join(cell(text) for text in (
            setting, _pairs(top, stats, ("measure",)), _pairs(strong, stats),
            _pairs(weak, stats))) + " |")
    disagreements = stats.sign_disagreements(corr)
    parts += ["", f"Pairs of two papers' measures that disagree in sign: {len(disagreements)} "
                  "(listed in the report)."]
    return parts


def write_replication(root: Path, papers: dict[str, tuple[ClaimSet, dict[str, tuple[str, ...]]]],
                      out: Path, atlas_stats: ModuleType | None = None) -> Path:
    """REPLICATION.md from the committed tables; ``papers``: slug -> (its ClaimSet, figure stem
    -> the experiments the figure draws); ``atlas_stats``: the atlas's statistics module, for its
    section (left as "not published" without it)."""
    manifest_path = root / "replication" / "cpu" / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    parts = [
        "# Replication record",
        "",
        "Generated by `snakemake --cores 1 REPLICATION.md` (`trainlens replication`) from the "
        "committed tables: do not edit by hand. **Smoke** is the verdict CI rebuilds and compares "
        "on every change (tests/golden/smoke/); it runs the protocol at plumbing size and proves "
        "the suite works, not the science. **cpu** is the paper protocol on real data that two "
        "CPU cores afford, judged by the paper-scale thresholds: the evidence, published in "
        "[replication/cpu/](replication/cpu/) with each paper's REPORT.md and figures. "
        "Deviations from the papers are listed in docs/protocols/<paper>.md §9 and in each "
        "REPORT.",
        "",
        f"cpu build: commit `{manifest.get('commit', 'none published')}`, "
        f"{manifest.get('machine', {}).get('processor', '?')} "
        f"({manifest.get('machine', {}).get('cpu_cores', '?')} cores), torch "
        f"{manifest.get('versions', {}).get('torch', '?')}, built "
        f"{manifest.get('published_at', '?')[:10]}, wall "
        + (f"{manifest['build_wall_s'] / 60:.0f} min" if manifest.get("build_wall_s") else "?")
        + ".",
        "",
        "| Paper | Smoke | cpu | cpu training and probe jobs: wall / CPU minutes |",
        "|---|---|---|---|",
    ]
    for paper in papers:
        times = manifest.get("per_paper", {}).get(paper, {})
        parts.append(f"| [{paper}](#{paper}) | "
                     f"{counts(read_claims(root / GOLDEN_SMOKE.format(paper=paper)))} | "
                     f"{counts(read_claims(root / PUBLISHED.format(scale='cpu', paper=paper)))} | "
                     f"{times.get('jobs_wall_s', 0) / 60:.0f} / "
                     f"{times.get('jobs_cpu_time_s', 0) / 60:.0f} |")
    for paper, (claims, figure_experiments) in papers.items():
        parts += ["", f"## {paper}", "",
                  f"Protocol: [docs/protocols/{paper}.md](docs/protocols/{paper}.md) · cpu report: "
                  f"[replication/cpu/{paper}/REPORT.md](replication/cpu/{paper}/REPORT.md)", "",
                  HEADER, *paper_rows(root, paper, claims, figure_experiments)]
    parts += atlas_section(root, atlas_stats)
    return atomic_write_text(out, "\n".join(parts) + "\n")
