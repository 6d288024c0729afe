"""What ``snakemake --report`` shows: the verdict summary page, the figures' fixed labels, and
captions that docutils renders without a message (report/*.rst rendered as Snakemake does)."""

from __future__ import annotations

import base64
import io
import re
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from docutils.core import publish_parts
from jinja2 import Environment

from trainlens.cli import load_module
from trainlens.report import figure_labels
from trainlens.tables import write_table
from trainlens.verdicts import summary_labels, write_verdict_summary

REPO = Path(__file__).resolve().parents[2]
PAPERS = ("loukas2021", "dherin2022", "fort2019", "nakazato2024")
NASTY = "ε = |1 − p − y| for *all* `x`, τ_t and x_ [1]_ <b>&amp;</b> \\ end"


def claim(paper: str, claim_id: str, passed: str, **fields: str) -> dict:
    row = {"paper": paper, "claim_id": claim_id, "figure": "fig01_a", "source": "§6",
           "statement": f"{paper} {claim_id} statement", "statistic": "rho", "value": "rho=0.9",
           "threshold": "rho >= 0.5", "scale": "smoke", "passed": passed,
           "gating": "yes" if passed else "", "n_runs": 3, "reason": "", "known_cause": "",
           "git_commit": "NA"}
    return {**row, **fields}


class Cells(HTMLParser):
    """Every table row as (its attributes, its cells' text), and every tag seen."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[dict, list[str]]] = []
        self.tags: list[tuple[str, dict]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "br" and self._cell is not None:
            self._cell.append("\n")
        elif tag == "tr":
            self.rows.append((dict(attrs), []))
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1][1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture
def two_papers(tmp_path: Path) -> list[Path]:
    """p1: 2 PASS, 1 FAIL, 1 not evaluated; p2: 1 FAIL whose texts hold markup and rst."""
    tables = {
        "p1": [claim("p1", "C1", "PASS"), claim("p1", "C2", "FAIL", reason="failed: rho >= 0.5"),
               claim("p1", "C3", "", reason="paper scale only"), claim("p1", "C4", "PASS")],
        "p2": [claim("p2", "C1", "FAIL", statement=NASTY, reason="<script>alert(1)</script>",
                     value="rho=0.9; n=3")],
    }
    paths = []
    for paper, rows in tables.items():
        (tmp_path / paper).mkdir()
        paths.append(write_table(pd.DataFrame(rows), tmp_path / paper / "claims.tsv", "claims"))
    return paths


def test_verdict_summary_counts_and_colours_every_claim(tmp_path, two_papers):
    out = write_verdict_summary(two_papers, "smoke", tmp_path / "verdicts.html")
    page = Cells()
    page.feed(out.read_text())
    counts = {cells[0]: cells[1:5] for _, cells in page.rows if len(cells) == 6}
    # hand counts of the fixture: PASS, FAIL, not evaluated, claims
    assert counts["p1"] == ["2", "1", "1", "4"] and counts["p2"] == ["0", "1", "0", "1"]
    header = next(cells for _, cells in page.rows if cells[0] == "claim")
    claim_rows = {attrs["id"]: (attrs["class"], dict(zip(header, cells)))
                  for attrs, cells in page.rows if "id" in attrs}
    assert set(claim_rows) == {"p1-C1", "p1-C2", "p1-C3", "p1-C4", "p2-C1"}
    assert [claim_rows[i][0] for i in ("p1-C1", "p1-C2", "p1-C3")] == ["PASS", "FAIL", "none"]
    assert claim_rows["p1-C3"][1]["verdict"] == "not evaluated"
    assert claim_rows["p1-C2"][1]["why (reason)"] == "failed: rho >= 0.5"  # why it failed
    assert claim_rows["p2-C1"][1]["value"] == "rho=0.9\nn=3"  # one statistic per line
    # escaped: the text reads back as written, and no tag of it becomes a tag of the page
    assert claim_rows["p2-C1"][1]["statement"] == NASTY
    assert claim_rows["p2-C1"][1]["why (reason)"] == "<script>alert(1)</script>"
    assert "script" not in {tag for tag, _ in page.tags} and "b" not in {t for t, _ in page.tags}
    # self-contained: nothing outside the page is loaded; each claims.tsv is in it, as written
    assert not [attrs for _, attrs in page.tags if "src" in attrs]
    links = [a for _, a in page.tags if "href" in a and not a["href"].startswith("#")]
    assert [a["download"] for a in links] == ["p1_claims.tsv", "p2_claims.tsv"]
    for link, path in zip(links, two_papers):
        prefix, payload = link["href"].split(",", 1)
        assert prefix == "data:text/tab-separated-values;base64"
        assert base64.b64decode(payload) == path.read_bytes()
    assert "url(" not in out.read_text() and "@import" not in out.read_text()


def test_summary_labels_count_every_paper(two_papers):
    assert summary_labels(two_papers, "smoke") == {
        "scale": "smoke", "PASS": 2, "FAIL": 2, "not evaluated": 1}
    missing = [two_papers[0], two_papers[0].parent / "nope.tsv"]
    assert summary_labels(missing, "smoke") == {"scale": "smoke", "claims": "not checked yet"}


def test_figure_labels_are_two_fixed_columns(tmp_path):
    rows = [claim("p", "C1", "PASS", figure="fig01_a; fig02_b"), claim("p", "C2", "FAIL"),
            claim("p", "C3", "", figure="fig02_b")]
    path = write_table(pd.DataFrame(rows), tmp_path / "claims.tsv", "claims")
    assert figure_labels(path, "fig01_a") == {"figure": "fig01_a", "claims": "C1 PASS · C2 FAIL"}
    assert figure_labels(path, "fig02_b") == {"figure": "fig02_b",
                                              "claims": "C1 PASS · C3 not evaluated"}
    assert figure_labels(path, "fig03_c") == {"figure": "fig03_c", "claims": "none"}
    assert figure_labels(tmp_path / "none.tsv", "fig01_a")["claims"] == "not checked yet"


def render_rst(template: str, **context) -> tuple[str, str]:
    """Render a report/*.rst as Snakemake does (Jinja, then docutils' HTML writer): the HTML
    body and every docutils message (errors and warnings go to the stream, none halts)."""
    text = Environment(trim_blocks=True, lstrip_blocks=True).from_string(
        (REPO / "report" / template).read_text()).render(**context)
    messages = io.StringIO()
    body = publish_parts(text, writer="html", settings_overrides={
        "warning_stream": messages, "report_level": 1, "halt_level": 5})["html_body"]
    return body, messages.getvalue()


def plain(html: str) -> str:
    """The text a reader sees: tags dropped, entities decoded, whitespace collapsed."""
    from html import unescape
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", "", html)))


def figure_context(paper: str, stem: str, caption: str) -> dict:
    params = SimpleNamespace(kind="reconstructed figure", caption=caption,
                             report=f"figures/smoke/{paper}/REPORT.md")
    return {"snakemake": SimpleNamespace(wildcards=SimpleNamespace(figure=stem), params=params)}


@pytest.mark.parametrize("paper", PAPERS)
def test_every_caption_renders_without_docutils_messages(paper):
    figures = load_module(str(REPO / "analysis" / paper / "figures.py")).figures.figures
    for stem, spec in figures.items():
        body, messages = render_rst("figure.rst", **figure_context(paper, stem, spec.full_caption))
        assert messages == "", f"{paper}/{stem}: {messages}"
        assert " ".join(spec.full_caption.split()) in plain(body), stem  # shown as written


def test_rst_markup_in_a_caption_is_shown_as_text():
    body, messages = render_rst("figure.rst", **figure_context("p", "fig01_a", NASTY + "\n- x"))
    assert messages == ""
    assert NASTY + " - x" in plain(body)


def test_workflow_description_opens_on_the_verdict_counts():
    summary = SimpleNamespace(name="verdicts.html", path=Path("figures/smoke/verdicts.html"),
                              labels={"scale": "smoke", "PASS": 5, "FAIL": 3,
                                      "not evaluated": 2})
    config = {"scale": "smoke", "slice": False, "papers": ["p1", "p2"]}
    body, messages = render_rst("workflow.rst", snakemake=SimpleNamespace(config=config),
                                files=[summary], categories={})
    assert messages == ""
    text = plain(body).strip()
    assert text.startswith("Verdicts at scale smoke: 5 PASS, 3 FAIL, 2 not evaluated.")
    link = re.search(r'href="(javascript:[^"]+)">Open the verdict summary', body)
    assert link and "results['figures/smoke/verdicts.html'].data_uri" in link.group(1)
    body, messages = render_rst("workflow.rst", snakemake=SimpleNamespace(config=config),
                                files=[], categories={})
    assert messages == "" and "No verdict summary" in plain(body)


def test_verdict_summary_caption_renders_without_docutils_messages():
    context = {"snakemake": SimpleNamespace(params=SimpleNamespace(scale="smoke"))}
    body, messages = render_rst("verdicts.rst", **context)
    assert messages == "" and "scale smoke" in plain(body)
