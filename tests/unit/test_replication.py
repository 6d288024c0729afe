"""REPLICATION.md: generated, complete, and equal to the committed tables it reports."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from trainlens.cli import load_module, main
from trainlens.replication import cell, verdict

REPO = Path(__file__).resolve().parents[2]
# the configured papers, in the configured order: what the rule passes (rules/replication.smk)
PAPERS = yaml.safe_load((REPO / "experiments" / "config.yaml").read_text())["papers"]
COLUMNS = ["claim", "statement", "paper_says", "smoke", "cpu", "paper"]


def table_rows(markdown: str) -> dict[str, dict[str, dict[str, str]]]:
    """paper -> claim id -> column -> cell text (pipes unescaped), from REPLICATION.md."""
    rows: dict[str, dict[str, dict[str, str]]] = {}
    paper = ""
    for line in markdown.splitlines():
        if line.startswith("## "):
            paper = line[3:].strip()
        elif paper and re.match(r"\| C\d+ \|", line):
            cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            rows.setdefault(paper, {})[cells[0]] = dict(zip(COLUMNS, cells))
    return rows


@pytest.fixture(scope="module")
def committed() -> dict[str, dict[str, dict[str, str]]]:
    return table_rows((REPO / "REPLICATION.md").read_text())


def test_the_committed_record_is_what_the_command_writes(tmp_path, monkeypatch):
    """Nothing typed by hand, nothing stale: regenerate from the committed tables and compare."""
    monkeypatch.chdir(REPO)
    assert main(["replication", "--papers", *PAPERS, "--out", str(tmp_path / "R.md")]) == 0
    assert (tmp_path / "R.md").read_text() == (REPO / "REPLICATION.md").read_text(), (
        "REPLICATION.md is stale: run snakemake --cores 1 REPLICATION.md and commit it")


@pytest.mark.parametrize("paper", PAPERS)
def test_every_claim_of_the_protocol_is_listed(committed, paper):
    registry = load_module(REPO / "analysis" / paper / "claims.py").claims.claims
    assert list(committed[paper]) == sorted(registry, key=lambda c: int(c[1:]))


@pytest.mark.parametrize("paper", PAPERS)
def test_the_cpu_column_equals_the_published_claims(committed, paper):
    published = pd.read_csv(REPO / "replication" / "cpu" / paper / "claims.tsv", sep="\t",
                            dtype=str, keep_default_na=False)
    assert len(published) == len(committed[paper])
    for row in published.itertuples():
        shown = committed[paper][row.claim_id]["cpu"]
        expected = {"PASS": "PASS", "FAIL": "**FAIL**", "": "not evaluated"}[row.passed]
        assert shown.startswith(expected), (row.claim_id, shown)
        assert (row.value if row.passed else row.reason) in shown, (row.claim_id, shown)


@pytest.mark.parametrize("paper", PAPERS)
def test_the_smoke_column_equals_the_golden_verdicts(committed, paper):
    golden = pd.read_csv(REPO / "tests" / "golden" / "smoke" / paper / "claims.tsv", sep="\t",
                         dtype=str, keep_default_na=False)
    for row in golden.itertuples():
        expected = {"PASS": "PASS", "FAIL": "**FAIL**", "": "not evaluated"}[row.passed]
        assert committed[paper][row.claim_id]["smoke"].startswith(expected), row.claim_id


def test_a_verdict_cell_names_the_failed_criterion_and_escapes_pipes():
    row = pd.Series({"passed": "FAIL", "gating": "yes", "value": "rho=0.1|x",
                     "reason": "failed: rho >= 0.5"})
    assert verdict(row, with_statistic=True) == "**FAIL**: rho=0.1|x; failed: rho >= 0.5"
    assert cell(verdict(row, with_statistic=True)) == "**FAIL**: rho=0.1\\|x; failed: rho >= 0.5"
    report_only = pd.Series({"passed": "PASS", "gating": "no", "value": "a=1", "reason": ""})
    assert verdict(report_only, with_statistic=False) == "PASS (non-gating)"
    not_run = pd.Series({"passed": "", "gating": "", "value": "", "reason": "needs CIFAR-10"})
    assert verdict(not_run, with_statistic=True) == "not evaluated: needs CIFAR-10"


def test_the_readme_gives_the_record_s_counts():
    """The README opens with the counts of REPLICATION.md; they must be the record's own."""
    record = (REPO / "REPLICATION.md").read_text()
    totals = {}
    for scale, column in (("smoke", 1), ("cpu", 2)):
        cells = [line.split(" | ")[column] for line in record.splitlines()
                 if line.startswith("| [")]
        totals[scale] = [sum(int(re.search(rf"(\d+) {word}", c).group(1)) for c in cells)
                         for word in ("PASS", "FAIL", "not evaluated")]
    intro = (REPO / "README.md").read_text().split("\n## ")[0]
    for scale, (passed, failed, missing) in totals.items():
        assert (f"{scale}: {passed} PASS, {failed} FAIL, {missing} not evaluated") in intro, scale


def test_the_atlas_is_a_suite_finding_apart_from_the_claims():
    """The atlas has its own section after every paper's claims, without verdicts, and its best
    predictor of the gap per setting is the largest |ρ| of the published correlations."""
    text = (REPO / "REPLICATION.md").read_text()
    heading = "## Suite finding: the complexity atlas (not a claim)"
    assert all(text.index(f"## {paper}\n") < text.index(heading) for paper in PAPERS)
    section = text[text.index(heading):]
    assert "PASS" not in section.replace("no PASS/FAIL", "") and "FAIL" not in section.replace(
        "no PASS/FAIL", "")
    corr = pd.read_csv(REPO / "replication" / "cpu" / "atlas" / "correlations.tsv", sep="\t")
    outcomes = {"train_loss", "test_loss", "train_error", "test_error", "gen_gap"}
    for setting, rows in corr.groupby("setting"):
        with_gap = rows[(rows["b"] == "gen_gap") & ~rows["a"].isin(outcomes)]
        best = with_gap.loc[with_gap["rho"].abs().idxmax()]
        line = next(row for row in section.splitlines() if row.startswith(f"| {setting} |"))
        first = line.split(" | ")[1]
        assert first.startswith(f"{best['a']} ρ = {best['rho']:+.2f}"), (setting, first)
