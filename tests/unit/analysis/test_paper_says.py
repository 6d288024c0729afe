"""Every claim of the four registries carries the paper's own words (``Claim.paper_says``), fit for
one cell of a markdown table in the generated REPLICATION.md (issue 26, item 4), and the claim
registry refuses a claim without them. claims.tsv keeps its columns (docs/design.md, Tables):
``paper_says`` is never written there."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from trainlens.claims import ClaimSet, Criterion, run_claims
from trainlens.cli import load_module
from trainlens.tables import TABLES

REPO = Path(__file__).resolve().parents[3]
PAPERS = ("loukas2021", "dherin2022", "fort2019", "nakazato2024")
MAX_CHARS = 220  # "under ~200 characters": one readable table cell


def _claims(paper: str) -> ClaimSet:
    return load_module(REPO / "analysis" / paper / "claims.py").claims


@pytest.mark.parametrize("paper", PAPERS)
def test_every_claim_says_what_the_paper_says(paper: str) -> None:
    claims = _claims(paper).claims
    # C1 ... Cn without a gap: no claim of the protocol is missing from the registry
    assert sorted(claims, key=lambda c: int(c[1:])) == [f"C{i}" for i in range(1, len(claims) + 1)]
    for claim_id, claim in claims.items():
        text = claim.paper_says
        assert text.strip(), f"{paper}:{claim_id} has no paper_says"
        assert "|" not in text, f"{paper}:{claim_id}: '|' breaks the markdown table"
        assert "\n" not in text and "\r" not in text, f"{paper}:{claim_id}: one line only"
        assert len(text) <= MAX_CHARS, f"{paper}:{claim_id}: {len(text)} characters"
        # self-contained: cites the repository's protocols, never a path outside it
        assert "shared" not in text and not re.search(r"\bspec\b", text), (paper, claim_id)
        for cited in re.findall(r"docs/protocols/(\w+)\.md", text):
            assert (REPO / "docs" / "protocols" / f"{cited}.md").is_file(), (paper, cited)


def test_paper_says_is_required() -> None:
    claims = ClaimSet("tiny")
    criteria = {"smoke": [Criterion("n", ">=", 1)]}
    with pytest.raises(TypeError):
        claims.claim("C1", "fig1", "§6", "statement", "n", criteria)
    with pytest.raises(TypeError):  # keyword only: a stray positional is not taken for it
        claims.claim("C1", "fig1", "§6", "statement", "n", criteria, None, "words")
    with pytest.raises(TypeError):
        claims.pending("C2", "fig2", "§6", "statement", "n", "not built: reason")
    with pytest.raises(TypeError):
        claims.pending("C2", "fig2", "§6", "statement", "n", "not built: reason", "words")
    assert claims.claims == {}


def test_paper_says_is_stored_and_stays_out_of_claims_tsv() -> None:
    claims = ClaimSet("tiny")
    claims.claim("C1", "fig1", "§6", "statement", "n", {"smoke": [Criterion("n", ">=", 1)]},
                 paper_says='Fig. 1: "n grows"')(lambda inputs: {"n": len(inputs.runs)})
    claims.pending("C2", "fig2", "§6", "later", "tau", "needs a probe",
                   paper_says="no number in the paper")
    assert claims.claims["C1"].paper_says == 'Fig. 1: "n grows"'
    assert claims.claims["C2"].paper_says == "no number in the paper"
    assert claims.claims["C2"].not_built == "needs a probe"
    runs = pd.DataFrame({"run_id": ["r0"], "status": ["ok"]})
    metrics = pd.DataFrame({"run_id": ["r0"], "metric": ["loss"], "value": [1.0]})
    table = run_claims(claims, runs, metrics, "smoke")
    assert list(table.columns) == list(TABLES["claims"])  # the columns of docs/design.md
    assert not table.astype(str).apply(lambda c: c.str.contains("n grows|no number")).any().any()
