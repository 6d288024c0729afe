"""The golden-claims comparison itself: it must see a changed verdict, word or number."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))
from golden import differences, same_statistic  # noqa: E402


def _table(value: str = "rho=0.885; n=12", passed: str = "PASS") -> pd.DataFrame:
    return pd.DataFrame({"claim_id": ["C1"], "figure": ["figR01"], "statement": ["s"],
                         "value": [value], "threshold": [">= 0.8"], "reason": [""],
                         "passed": [passed], "gating": ["yes"],
                         "known_cause": [""]}).set_index("claim_id")


def test_numbers_within_the_tolerance_are_the_same_statistic():
    assert same_statistic("rho=0.8850000; n=12", "rho=0.8850003; n=12")  # 3.4e-7 relative
    assert same_statistic("v=nan", "v=NaN")


def test_a_number_beyond_the_tolerance_a_word_or_a_count_differs():
    assert not same_statistic("rho=0.885; n=12", "rho=0.886; n=12")
    assert not same_statistic("rho=0.885; n=12", "tau=0.885; n=12")
    assert not same_statistic("rho=0.885; n=12", "rho=0.885; n=12; m=1")
    assert not same_statistic("v=nan", "v=0.5")


def test_differences_name_the_claim_and_the_column():
    assert differences(_table(), _table()) == []
    assert differences(_table(), _table(passed="FAIL")) == [
        "C1 passed: expected 'PASS', found 'FAIL'"]
    (line,) = differences(_table(), _table(value="rho=0.5; n=12"))
    assert line.startswith("C1 value:")
