"""The verdict summary of ``snakemake --report``: one self-contained HTML page per scale with the
PASS / FAIL / not evaluated counts of every paper and a colour-coded table of every claim.

Every cell comes from the papers' claims.tsv (design: no number is typed by hand). The page is
plain HTML with inline CSS and no external resource, so that the report embeds it as it is, and
every text is escaped: statements and statistics hold ``<``, ``|`` and ``&``.
"""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

import pandas as pd

from trainlens.io import atomic_write_text
from trainlens.tables import read_table

# claims.tsv's ``passed`` column: PASS, FAIL, or empty (not built yet, or not evaluated at this
# scale; ``reason`` says which)
VERDICT_NAMES = {"PASS": "PASS", "FAIL": "FAIL", "": "not evaluated"}
COLOURS = {"PASS": "#d9f2dd", "FAIL": "#fbd9d7", "": "#ececec"}
STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 16px; color: #1e293b; }
h1 { font-size: 20px; margin: 0 0 8px; } h2 { font-size: 17px; margin: 24px 0 6px; }
p { max-width: 70em; }
table { border-collapse: collapse; margin: 6px 0 12px; }
th, td { border: 1px solid #cbd5e1; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #f1f5f9; }
td.num { text-align: right; }
table.claims { width: 100%; table-layout: fixed; }
table.claims td { overflow-wrap: anywhere; }
td.how { font-size: 12px; color: #475569; }
td.stat { font: 12px/1.35 ui-monospace, monospace; }
tr.PASS td.verdict { background: #2e7d32; color: white; font-weight: bold; }
tr.FAIL td.verdict { background: #c62828; color: white; font-weight: bold; }
tr.none td.verdict { background: #9e9e9e; color: white; }
"""


def verdict_counts(claims: pd.DataFrame) -> dict[str, int]:
    """How many claims PASS, FAIL and are not evaluated (empty verdict), in that order."""
    return {name: int((claims["passed"] == verdict).sum())
            for verdict, name in VERDICT_NAMES.items()}


def counts_text(counts: dict[str, int]) -> str:
    """``8 PASS · 3 FAIL · 1 not evaluated``: the counts as one line (report labels, captions)."""
    return " · ".join(f"{n} {name}" for name, n in counts.items())


def _lines(text: str) -> str:
    """Escaped text, one line per ``; ``-separated part (claims.tsv joins statistics, criteria
    and reasons with ``; ``), so that a narrow column breaks between them, not inside one."""
    return "<br>".join(escape(part) for part in text.split("; "))


def _why(reason: str, known_cause: str) -> str:
    """The reason, one part per line, then the known cause whole (it may contain ``; ``)."""
    return "<br>".join(filter(None, [_lines(reason) if reason else "",
                                     escape(f"known cause: {known_cause}") if known_cause
                                     else ""]))


def _row_class(verdict: str) -> str:
    return verdict if verdict in ("PASS", "FAIL") else "none"


def _claims_rows(claims: pd.DataFrame) -> list[str]:
    """One colour-coded table row per claim (background: COLOURS; the verdict cell strong)."""
    rows = []
    for row in claims.itertuples():
        # the verdict and why first (a reader scans them; at 1,400 px the last columns scroll);
        # threshold, value and reason: one criterion, statistic or reason per line
        cells = [
            ("id", escape(row.claim_id)),
            ("verdict", escape(VERDICT_NAMES.get(row.passed, row.passed))),
            ("", escape(row.gating or "–")),
            ("why", _why(row.reason or "", getattr(row, "known_cause", ""))),
            ("text", escape(row.statement)), ("how", escape(row.statistic)),
            ("stat", _lines(row.threshold or "–")), ("stat", _lines(row.value or "–")),
        ]
        tds = "".join(f'<td class="{kind}">{html}</td>' for kind, html in cells)
        rows.append(f'<tr class="{_row_class(row.passed)}" id="{escape(row.paper)}-'
                    f'{escape(row.claim_id)}" style="background: {COLOURS.get(row.passed, "")}">'
                    f"{tds}</tr>")
    return rows


def _download(paper: str, tsv: bytes) -> str:
    """A link that saves the paper's claims.tsv, carried in the page itself (a data: URI)."""
    uri = "data:text/tab-separated-values;base64," + base64.b64encode(tsv).decode()
    return f'<a download="{escape(paper)}_claims.tsv" href="{uri}">claims.tsv</a>'


def summary_html(tables: dict[str, pd.DataFrame], scale: str,
                 downloads: dict[str, bytes] | None = None) -> str:
    """The page: the counts per paper, then every claim of every paper (paper order kept);
    ``downloads``: paper -> its claims.tsv as written, linked for download from the counts."""
    downloads = downloads or {}
    head = ["paper", "PASS", "FAIL", "not evaluated", "claims", "table"]
    count_rows = []
    for paper, claims in tables.items():
        counts = verdict_counts(claims)
        cells = [f'<td><a href="#{escape(paper)}">{escape(paper)}</a></td>']
        cells += [f'<td class="num">{n}</td>' for n in counts.values()]
        cells.append(f'<td class="num">{len(claims)}</td>')
        cells.append(f"<td>{_download(paper, downloads[paper]) if paper in downloads else ''}</td>")
        count_rows.append("<tr>" + "".join(cells) + "</tr>")
    parts = [
        "<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>trainlens verdicts, scale {escape(scale)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Verdict summary: scale {escape(scale)}</h1>",
        "<p>Every claim of every paper built, read from its <code>claims.tsv</code>. A FAIL is a "
        "result, reported with its statistic; thresholds are the protocol's "
        "(<code>docs/protocols/&lt;paper&gt;.md</code> §6), fixed before any run. An empty "
        "verdict (not evaluated) says why.</p>",
        "<table id=\"verdict-counts\"><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>",
        *count_rows, "</table>",
    ]
    # table-layout fixed: the columns share the window (percent), so none scrolls off-screen
    columns = {"claim": 4, "verdict": 8, "gating": 6, "why (reason)": 14, "statement": 17,
               "statistic": 16, "threshold": 15, "value": 20}
    for paper, claims in tables.items():
        parts += [f'<h2 id="{escape(paper)}">{escape(paper)}: '
                  f"{escape(counts_text(verdict_counts(claims)))}</h2>",
                  f'<table class="claims" data-paper="{escape(paper)}"><tr>'
                  + "".join(f'<th style="width: {w}%">{c}</th>' for c, w in columns.items())
                  + "</tr>",
                  *_claims_rows(claims), "</table>"]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def read_claims(paths: list[str | Path]) -> dict[str, pd.DataFrame]:
    """paper -> its claims table, in the order given (one claims.tsv per paper)."""
    return {_paper(path, claims): claims
            for path, claims in ((p, read_table(p, "claims")) for p in paths)}


def _paper(path: str | Path, claims: pd.DataFrame) -> str:
    return str(claims["paper"].iloc[0]) if len(claims) else Path(path).parent.name


def write_verdict_summary(paths: list[str | Path], scale: str, out: str | Path) -> Path:
    """figures/<scale>/verdicts.html from every paper's claims.tsv (each also linked as is)."""
    tables = read_claims(paths)
    downloads = {paper: Path(path).read_bytes() for paper, path in zip(tables, paths)}
    return atomic_write_text(out, summary_html(tables, scale, downloads))


def summary_labels(paths: list[str | Path], scale: str) -> dict[str, str | int]:
    """Report labels of the summary: the scale and the counts over every paper (workflow.rst
    prints them on the report's opening page); before the claims exist, says so."""
    if not all(Path(p).exists() for p in paths):
        return {"scale": scale, "claims": "not checked yet"}
    claims = pd.concat(list(read_claims(paths).values()), ignore_index=True)
    return {"scale": scale, **verdict_counts(claims)}

