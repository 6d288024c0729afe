"""The atlas's statistics against closed forms and hand computations (analysis/atlas/stats.py)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trainlens.cli import load_module

REPO = Path(__file__).resolve().parents[3]
STATS = load_module(REPO / "analysis" / "atlas" / "stats.py")


def test_spearman_of_monotone_transforms():
    x = np.array([0.3, 1.2, 2.0, 5.5, 7.1, 9.0])
    assert STATS.spearman(x, np.exp(x) + 3) == pytest.approx(1.0)
    assert STATS.spearman(x, -x ** 3) == pytest.approx(-1.0)


def test_spearman_undefined_cases():
    assert math.isnan(STATS.spearman([1, 2, 3], [1, 2, 3]))  # fewer than 4 runs
    assert math.isnan(STATS.spearman([1, 2, 3, 4], [5, 5, 5, 5]))  # constant
    # NaN pairs are dropped: 3 finite pairs left -> undefined
    assert math.isnan(STATS.spearman([1, 2, 3, np.nan], [1, 2, 3, 4]))


def test_spearman_hand_checked():
    # x ranks 1..5; y = (10, 30, 20, 50, 40) has ranks (1, 3, 2, 5, 4): d = (0, 1, 1, 1, 1),
    # Σd² = 4, ρ = 1 − 6·4 / (5·24) = 0.8
    assert STATS.spearman([1, 2, 3, 4, 5], [10, 30, 20, 50, 40]) == pytest.approx(0.8)
    # ties: y = (1, 1, 2, 3) has mid-ranks (1.5, 1.5, 3, 4), x ranks (1, 2, 3, 4): centred
    # (-1.5, -.5, .5, 1.5) · (-1, -1, .5, 1.5) = 1.5 + .5 + .25 + 2.25 = 4.5; |x|² = 5,
    # |y|² = 1 + 1 + .25 + 2.25 = 4.5; ρ = 4.5 / sqrt(5 · 4.5)
    assert STATS.spearman([1, 2, 3, 4], [1, 1, 2, 3]) == pytest.approx(4.5 / math.sqrt(22.5))


def test_bootstrap_of_perfectly_correlated_data_is_one():
    x = np.arange(8.0)
    assert STATS.bootstrap_interval(x, 2 * x + 1, b=200) == (1.0, 1.0)
    assert STATS.bootstrap_interval(x, -x, b=200) == (-1.0, -1.0)


def test_bootstrap_is_seeded_and_covers_rho():
    rng = np.random.default_rng(5)
    x = rng.normal(size=30)
    y = x + rng.normal(size=30)
    low, high = STATS.bootstrap_interval(x, y, b=500, seed=1)
    assert (low, high) == STATS.bootstrap_interval(x, y, b=500, seed=1)
    assert low < STATS.spearman(x, y) < high


def _atlas(setting: str, columns: dict[str, list[float]]) -> list[dict]:
    """Atlas rows of one setting at one final step (and an earlier step that must be ignored)."""
    rows = []
    for measure, values in columns.items():
        for i, value in enumerate(values):
            run_id = f"{setting}-{i}"
            base = {"setting": setting, "run_id": run_id, "seed": i, "varied": "base",
                    "knob_value": np.nan, "epoch": 1.0, "measure": measure}
            rows += [{**base, "step": 100, "value": value},
                     # an earlier checkpoint, to be ignored: the gap reversed there
                     {**base, "step": 10, "value": -value if measure == "gen_gap" else value}]
    return rows


X = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]


@pytest.fixture(scope="module")
def corr() -> pd.DataFrame:
    rows = _atlas("s1", {"gc": X, "tau": [2.0, 1.0, 3.0, 4.0, 6.0, 5.0],
                         "xi": [6.0, 5.0, 4.0, 3.0, 2.0, 1.0],
                         "ntk_diagonal": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
                         "gen_gap": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]})
    rows += _atlas("s2", {"gc": X, "tau": [6.0, 5.0, 4.0, 3.0, 2.0, 1.0],
                          "xi": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
                          "gen_gap": [0.6, 0.5, 0.4, 0.3, 0.2, 0.1]})
    return STATS.correlations(pd.DataFrame(rows), b=200)


def test_final_checkpoint_only(corr):
    row = corr[(corr["setting"] == "s1") & (corr["a"] == "gc") & (corr["b"] == "gen_gap")]
    assert row["rho"].item() == pytest.approx(1.0)  # the step-10 rows would give −1
    row = corr[(corr["setting"] == "s1") & (corr["a"] == "gc") & (corr["b"] == "xi")]
    assert row["rho"].item() == pytest.approx(-1.0)


def test_ranking_by_absolute_rho(corr):
    ranked = STATS.rank_predictors(corr)
    s1 = ranked[ranked["setting"] == "s1"]
    # gc: +1, xi: −1 (tied first by |ρ|), tau: ranks (2,1,3,4,6,5) vs 1..6: Σd² = 4,
    # ρ = 1 − 24/210 = 0.8857; ntk_diagonal constant -> undefined, last
    assert list(s1["measure"]) == ["gc", "xi", "tau", "ntk_diagonal"]
    assert list(s1["rank"].iloc[:3]) == [1.0, 1.0, 3.0] and math.isnan(s1["rank"].iloc[3])
    assert s1["rho"].iloc[2] == pytest.approx(1 - 24 / 210)
    assert (ranked["outcome"] == "gen_gap").all()


def test_strongest_and_weakest_agreements(corr):
    strong, weak = STATS.strongest_weakest(corr)["s1"]
    # defined measure pairs in s1: gc-tau ρ 0.886, gc-xi −1, tau-xi −0.886; ξ is read as a
    # smoothness (fort2019), so the agreements ρ·o_a·o_b are 0.886, +1 and +0.886
    pairs = lambda rows: [{a, b} for a, b in zip(rows["a"], rows["b"])]  # noqa: E731
    assert pairs(strong)[0] == {"gc", "xi"} and pairs(weak)[-1] == {"gc", "xi"}
    tied = [{"gc", "tau"}, {"tau", "xi"}]
    assert sorted(map(sorted, pairs(strong)[1:])) == sorted(map(sorted, tied))
    assert sorted(map(sorted, pairs(weak)[:2])) == sorted(map(sorted, tied))
    assert strong["agreement"].iloc[0] == pytest.approx(1.0)


def test_sign_disagreements(corr):
    found = STATS.sign_disagreements(corr)
    pairs = {(r.a, r.b, r.kind) for r in found.itertuples()}  # a, b in the atlas order
    # gc (dherin2022) vs tau (loukas2021): +0.886 in s1, −1 in s2 -> opposite signs;
    # its s2 interval is [−1, −1] -> below 0 too. gc vs xi (fort2019): −1 in s1, +1 in s2.
    # tau vs xi: −0.886 in s1, −1 in s2: same sign, and negative is what the readings predict
    # (ξ a smoothness): s2's [−1, −1] agrees. gc vs xi's s2 interval [+1, +1] is above 0: against.
    assert ("tau", "gc", "opposite signs across settings") in pairs
    assert ("gc", "xi", "opposite signs across settings") in pairs
    assert ("tau", "xi", "opposite signs across settings") not in pairs
    assert ("tau", "xi", "interval below 0") not in pairs
    assert ("gc", "xi", "interval above 0") in pairs
    assert all(r.paper_a != r.paper_b for r in found.itertuples())


def test_same_paper_pairs_are_not_disagreements():
    rows = _atlas("s1", {"tau": X, "distance_d": X[::-1], "gen_gap": X})
    found = STATS.sign_disagreements(STATS.correlations(pd.DataFrame(rows), b=50))
    assert found.empty  # both loukas2021


def test_matrix_is_symmetric(corr):
    m = STATS.matrix(corr, "s1")
    assert m.loc["gc", "xi"] == m.loc["xi", "gc"] == pytest.approx(-1.0)
    assert m.loc["gc", "gc"] == 1.0 and math.isnan(m.loc["ntk_diagonal", "ntk_diagonal"])


def test_rho_text():
    assert STATS.rho_text(0.5, 0.1, 0.9) == "+0.50 [+0.10, +0.90]"
    assert STATS.rho_text(float("nan"), 0, 0) == "undefined"


def test_orientation_flips_the_predicted_sign(corr, monkeypatch):
    # read ξ as a complexity instead: gc–xi and tau–xi are then predicted positive; tau–xi's s2
    # interval [−1, −1] is below 0 (against), gc–xi's [+1, +1] agrees
    monkeypatch.setitem(STATS.ORIENTATION, "xi", 1)
    found = {(r.a, r.b, r.kind) for r in STATS.sign_disagreements(corr).itertuples()}
    assert ("tau", "xi", "interval below 0") in found
    assert ("gc", "xi", "interval above 0") not in found
