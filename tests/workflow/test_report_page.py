"""``snakemake --report`` of the smoke build, opened in headless Chromium as a reader would: the
opening page gives the verdict counts, its link opens the summary table with every claim of every
paper, each figures table has two full columns, and docutils builds it without a message."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pandas as pd
import pytest
import yaml
from report_browser import rendered_dom
from test_workflow import snakemake

VERDICT_NAMES = {"PASS": "PASS", "FAIL": "FAIL", "": "not evaluated"}


class ClaimRows(HTMLParser):
    """The summary's table rows as they render: claim rows by id (``<paper>-<claim>``) and the
    counts rows by paper, each as the text of its cells."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, dict[str, str]] = {}
        self.header: list[str] = []
        self.counts: dict[str, list[str]] = {}
        self._cells: list[str] | None = None
        self._id: str | None = None
        self._inside = False

    def handle_starttag(self, tag, attrs):
        if tag == "br" and self._inside:
            self._cells[-1] += "\n"
        elif tag == "tr":
            self._id, self._cells = dict(attrs).get("id"), []
        elif tag in ("td", "th") and self._cells is not None:
            self._cells.append("")
            self._inside = True

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._inside = False
        if tag == "tr" and self._cells and self._cells[0] == "claim":
            self.header = self._cells
        elif tag == "tr" and self._cells:
            if self._id:  # a claim: its cells under the claims table's headers
                self.rows[self._id] = dict(zip(self.header, self._cells))
            elif len(self._cells) == 6:  # paper, PASS, FAIL, not evaluated, claims, download
                self.counts[self._cells[0]] = self._cells[1:5]

    def handle_data(self, data):
        if self._inside:
            self._cells[-1] += data


def probe(dom: str, name: str) -> str:
    found = re.search(rf'<(pre|div) id="probe-{name}">(.*?)</\1>', dom, flags=re.S)
    errors = re.findall(r'id="probe-error">([^<]*)', dom)
    assert found, f"probe-{name} missing: " + "; ".join(errors)
    return found.group(2)


@pytest.fixture(scope="module")
def report(smoke_build):
    """report.html of the smoke build, with the report stylesheet (README), and its build log."""
    root, done = smoke_build
    assert done.returncode == 0, done.stderr[-3000:]
    built = snakemake("--report", "report.html", "--report-stylesheet", "report/report.css",
                      cwd=root, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    return root, built.stdout + built.stderr


@pytest.mark.slow
def test_report_builds_without_docutils_messages(report):
    _, log = report
    # docutils writes "<string>:3: (ERROR/3) Undefined substitution referenced: ..." per problem
    assert not re.findall(r"\((?:INFO|WARNING|ERROR|SEVERE)/\d\).*", log)


@pytest.mark.slow
def test_report_opens_on_the_verdict_summary(report):
    root, _ = report
    papers = yaml.safe_load((root / "experiments" / "config.yaml").read_text())["papers"]
    claims = {paper: pd.read_csv(root / "results" / "smoke" / paper / "claims.tsv", sep="\t",
                                 keep_default_na=False, dtype=str) for paper in papers}
    dom = rendered_dom(root / "report.html", "summary")
    # the opening page: the counts over every paper
    every = pd.concat(claims.values())
    opening = " ".join(probe(dom, "opening").split())
    counts = ", ".join(f"{int((every['passed'] == v).sum())} {name}"
                       for v, name in VERDICT_NAMES.items())
    assert f"Verdicts at scale smoke: {counts}." in opening
    # the link opened the summary: one row per claim of every paper, with its verdict
    rows = ClaimRows()
    rows.feed(probe(dom, "summary"))
    expected = {f"{paper}-{row.claim_id}": row for paper, table in claims.items()
                for row in table.itertuples()}
    assert set(rows.rows) == set(expected)
    for paper, table in claims.items():  # the counts per paper head the page
        counts = [str(int((table["passed"] == v).sum())) for v in VERDICT_NAMES]
        assert rows.counts[paper] == [*counts, str(len(table))], paper
    for key, row in expected.items():
        cells = rows.rows[key]
        assert cells["claim"] == row.claim_id, key
        assert cells["verdict"] == VERDICT_NAMES[row.passed], key
        assert cells["statement"] == row.statement, key
        # value and reason: one statistic or reason per line
        why = [row.reason.replace("; ", "\n")] if row.reason else []
        why += [f"known cause: {row.known_cause}"] if row.known_cause else []
        assert cells["why (reason)"] == "\n".join(why), key
        assert cells["value"] == (row.value or "–").replace("; ", "\n"), key


@pytest.mark.slow
@pytest.mark.parametrize("paper", ["loukas2021", "nakazato2024"])
def test_figures_table_has_two_full_columns(report, paper):
    root, _ = report
    dom = rendered_dom(root / "report.html", "figure", paper)
    assert probe(dom, "figures") == '["figure","claims",""]'
