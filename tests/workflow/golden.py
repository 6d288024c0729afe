"""Golden smoke claims: a fresh smoke build must give the committed verdicts and statistics.

``tests/golden/smoke/<slug>/claims.tsv`` is each paper's ``claims.tsv`` from a smoke build of the
commit that last changed the science. The comparison is per claim: the verdict, the gating
verdict and every non-numeric part of the statistic and threshold are equal as text; every number
in them is equal to ``RTOL`` relative (CPU builds are deterministic on one machine; the tolerance
only absorbs the last printed digit). A deliberate change to the science updates the committed
table in the same commit (README, "Golden smoke claims").
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd

RTOL = 1e-6
# columns compared; git_commit (provenance) and n_runs aside, every column of claims.tsv
TEXT_COLUMNS = ("figure", "statement", "passed", "gating", "known_cause")
NUMERIC_COLUMNS = ("value", "threshold", "reason")
_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|nan|inf", re.IGNORECASE)


def read_claims(path: str | Path) -> pd.DataFrame:
    """claims.tsv as text, indexed by claim id (empty cells stay empty strings)."""
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False).set_index("claim_id")


def _numbers_equal(a: str, b: str) -> bool:
    x, y = float(a), float(b)
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return math.isclose(x, y, rel_tol=RTOL, abs_tol=0.0) or x == y


def same_statistic(expected: str, found: str) -> bool:
    """True when two statistic strings have the same words and their numbers agree to RTOL."""
    if _NUMBER.sub("#", expected) != _NUMBER.sub("#", found):
        return False
    return all(_numbers_equal(a, b) for a, b in
               zip(_NUMBER.findall(expected), _NUMBER.findall(found), strict=True))


def differences(expected: pd.DataFrame, found: pd.DataFrame) -> list[str]:
    """One line per disagreement between a golden claims table and a fresh one (empty: equal)."""
    if list(expected.index) != list(found.index):
        return [f"claim ids differ: expected {list(expected.index)}, found {list(found.index)}"]
    lines = []
    for claim in expected.index:
        for column in TEXT_COLUMNS:
            if expected.at[claim, column] != found.at[claim, column]:
                lines.append(f"{claim} {column}: expected {expected.at[claim, column]!r}, "
                             f"found {found.at[claim, column]!r}")
        for column in NUMERIC_COLUMNS:
            if not same_statistic(expected.at[claim, column], found.at[claim, column]):
                lines.append(f"{claim} {column}: expected {expected.at[claim, column]!r}, "
                             f"found {found.at[claim, column]!r}")
    return lines
