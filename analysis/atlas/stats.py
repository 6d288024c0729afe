"""The atlas's statistics (issue 29), numpy/pandas/scipy only: findings, no thresholds.

Per setting, at the final checkpoint of each run: Spearman's ρ between every two measures and
outcomes across runs, with a percentile bootstrap 95% interval over runs (runs resampled with
replacement, a fixed seed). A pair with fewer than 4 runs where both are defined, or a constant
column, has no ρ (NaN, reported as "undefined"). From the matrix: the measures ranked as
predictors of the generalization gap (and the test error) by |ρ|, the agreements between measures
sorted, and the pairs of two papers' measures that disagree in sign.

Sign convention (``ORIENTATION``): each measure is read as its own paper reads it, +1 when larger
means more complex, −1 when larger means smoother (fort2019's stiffness Δ and ξ); two measures
agree when ρ·o_a·o_b > 0; the strongest agreements are the largest ρ·o_a·o_b, the weakest the
smallest.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
from scipy.stats import rankdata

PAPERS = {
    **{m: "loukas2021" for m in ("lambda_train_mean", "lambda_train_max", "lambda_test_mean",
                                 "lambda_far_mean", "tau", "variance_v", "distance_d")},
    "gc": "dherin2022",
    **{m: "fort2019" for m in ("stiffness_cos_delta", "stiffness_sign_delta", "xi")},
    "ntk_diagonal": "nakazato2024", "pr_w": "nakazato2024",
}
# Each measure as its own paper reads it: +1, larger = more complex (λ, τ, V, d: loukas2021 §4;
# GC: dherin2022 §4; the NTK diagonal and PR_W: nakazato2024 §4.1, §4.5, SGD reducing PR_W as the
# network simplifies); −1, larger = smoother (fort2019 §4: stiffer classes and a longer critical
# length ξ go with better generalization). Two measures agree when ρ·o_a·o_b > 0.
ORIENTATION = {**dict.fromkeys(PAPERS, 1),
               "stiffness_cos_delta": -1, "stiffness_sign_delta": -1, "xi": -1}
OUTCOMES = ("train_loss", "test_loss", "train_error", "test_error", "gen_gap")
ORDER = [*PAPERS, *OUTCOMES]  # the atlas's measure order (analysis/atlas/table.py ORDER)
MIN_RUNS = 4
B = 1000
SEED = 0
CORR_COLUMNS = ["setting", "a", "b", "rho", "low", "high", "n"]


def final_values(atlas: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per setting, one row per run (its final checkpoint: the largest step with a row), one
    column per measure or outcome, in the atlas's measure order."""
    last = atlas.groupby("run_id")["step"].transform("max")
    final = atlas[atlas["step"] == last]
    order = ORDER + sorted(set(final["measure"]) - set(ORDER))
    return {setting: rows.pivot_table(index="run_id", columns="measure", values="value",
                                      aggfunc="first", dropna=False)
            .reindex(columns=[m for m in order if m in set(rows["measure"])])
            for setting, rows in final.groupby("setting", sort=False)}


def spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's ρ of each row pair of ``x`` and ``y`` (shape (k, n)): Pearson's r of the
    average ranks; NaN for a row with a constant side."""
    rx = rankdata(x, axis=-1)
    ry = rankdata(y, axis=-1)
    rx = rx - rx.mean(axis=-1, keepdims=True)
    ry = ry - ry.mean(axis=-1, keepdims=True)
    denominator = np.sqrt((rx * rx).sum(axis=-1) * (ry * ry).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (rx * ry).sum(axis=-1) / denominator
    return np.where(denominator > 1e-12, np.clip(rho, -1.0, 1.0), np.nan)


def spearman(x, y) -> float:
    """Spearman's ρ over the pairs where both are finite; NaN with fewer than ``MIN_RUNS`` pairs
    or a constant side."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < MIN_RUNS:
        return float("nan")
    return float(spearman_rows(x[keep][None], y[keep][None])[0])


def bootstrap_interval(x, y, b: int = B, seed: int = SEED) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of Spearman's ρ over runs: the runs where both are
    finite resampled with replacement ``b`` times (a fixed seed); resamples whose ρ is undefined
    (a constant side) are left out. NaN where ρ itself is undefined."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    if np.isnan(spearman(x, y)):
        return float("nan"), float("nan")
    x, y = x[keep], y[keep]
    index = np.random.default_rng(seed).integers(0, len(x), size=(b, len(x)))
    rhos = spearman_rows(x[index], y[index])
    rhos = rhos[np.isfinite(rhos)]
    if rhos.size == 0:
        return float("nan"), float("nan")
    low, high = np.percentile(rhos, [2.5, 97.5])
    return float(low), float(high)


def correlations(atlas: pd.DataFrame, b: int = B, seed: int = SEED) -> pd.DataFrame:
    """Every pair of measures and outcomes per setting (a before b in the atlas order): ρ, its
    bootstrap 95% interval and the number of runs where both are defined."""
    rows = []
    for setting, wide in final_values(atlas).items():
        for a, c in combinations(wide.columns, 2):
            x, y = wide[a].to_numpy(float), wide[c].to_numpy(float)
            low, high = bootstrap_interval(x, y, b, seed)
            rows.append({"setting": setting, "a": a, "b": c, "rho": spearman(x, y), "low": low,
                         "high": high, "n": int((np.isfinite(x) & np.isfinite(y)).sum())})
    return pd.DataFrame(rows, columns=CORR_COLUMNS)


def matrix(corr: pd.DataFrame, setting: str, column: str = "rho") -> pd.DataFrame:
    """The symmetric matrix of ``column`` (rho, low or high) of one setting, 1 on the diagonal
    (NaN on it for a measure with no defined pair)."""
    rows = corr[corr["setting"] == setting]
    names = list(dict.fromkeys([*rows["a"], *rows["b"]]))
    out = pd.DataFrame(np.nan, index=names, columns=names)
    for row in rows.itertuples():
        out.loc[row.a, row.b] = out.loc[row.b, row.a] = getattr(row, column)
    for name in names:
        defined = out.loc[name].drop(name).notna().any()
        out.loc[name, name] = 1.0 if defined else np.nan
    return out


def _with(corr: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """The rows pairing a measure (not an outcome) with ``outcome``, as (measure, ...)."""
    first = corr[(corr["b"] == outcome) & ~corr["a"].isin(OUTCOMES)]
    second = corr[(corr["a"] == outcome) & ~corr["b"].isin(OUTCOMES)]
    return pd.concat([first.rename(columns={"a": "measure"}).drop(columns="b"),
                      second.rename(columns={"b": "measure"}).drop(columns="a")])


def rank_predictors(corr: pd.DataFrame, outcome: str = "gen_gap") -> pd.DataFrame:
    """Per setting, the measures ranked as predictors of ``outcome`` by |ρ| (largest first,
    undefined last), with ρ, its interval, n and the rank (1 = best; NaN if undefined)."""
    rows = _with(corr, outcome).assign(outcome=outcome)
    rows["abs_rho"] = rows["rho"].abs()
    rows = rows.sort_values(["setting", "abs_rho"], ascending=[True, False], na_position="last",
                            kind="stable")
    rows["rank"] = rows.groupby("setting")["abs_rho"].rank(ascending=False, method="min")
    return rows[["setting", "outcome", "measure", "rho", "low", "high", "n", "abs_rho",
                 "rank"]].reset_index(drop=True)


def agreements(corr: pd.DataFrame) -> pd.DataFrame:
    """Pairs of measures (no outcome) per setting with their ``agreement`` ρ·o_a·o_b (ORIENTATION:
    positive when both papers' readings agree), strongest agreement first; undefined pairs are
    left out."""
    rows = corr[~corr["a"].isin(OUTCOMES) & ~corr["b"].isin(OUTCOMES) & corr["rho"].notna()]
    rows = rows.assign(agreement=rows["rho"] * rows["a"].map(ORIENTATION)
                       * rows["b"].map(ORIENTATION))
    return rows.sort_values(["setting", "agreement"], ascending=[True, False],
                            kind="stable").reset_index(drop=True)


def strongest_weakest(corr: pd.DataFrame, k: int = 3) -> dict[str, tuple[pd.DataFrame,
                                                                         pd.DataFrame]]:
    """Per setting, the ``k`` strongest agreements (largest ρ·o_a·o_b, first the largest) and the
    ``k`` weakest (smallest, first the smallest)."""
    return {setting: (rows.head(k).reset_index(drop=True),
                      rows.sort_values("agreement", kind="stable").head(k).reset_index(drop=True))
            for setting, rows in agreements(corr).groupby("setting", sort=False)}


def sign_disagreements(corr: pd.DataFrame) -> pd.DataFrame:
    """Pairs of measures from different papers that disagree in sign: ρ of opposite signs in two
    settings ("opposite signs across settings"), or a 95% interval that excludes 0 on the side
    opposite to the sign both papers' theories predict (ORIENTATION[a]·ORIENTATION[b]: +1 for two
    complexities; "interval below 0" or "interval above 0"). One row per pair and kind, with the
    settings and their ρ [interval] in ``detail``."""
    rows = corr[corr["a"].map(PAPERS).notna() & corr["b"].map(PAPERS).notna()]
    rows = rows[rows["a"].map(PAPERS) != rows["b"].map(PAPERS)]
    out = []
    for (a, b), pair in rows.groupby(["a", "b"], sort=False):
        signed = pair[pair["rho"].notna() & (pair["rho"] != 0)]
        base = {"a": a, "b": b, "paper_a": PAPERS[a], "paper_b": PAPERS[b]}
        if (signed["rho"] > 0).any() and (signed["rho"] < 0).any():
            out.append({**base, "kind": "opposite signs across settings",
                        "settings": tuple(signed["setting"]), "detail": _detail(signed)})
        predicted = ORIENTATION[a] * ORIENTATION[b]
        against = pair[pair["high"] < 0] if predicted > 0 else pair[pair["low"] > 0]
        if len(against):
            out.append({**base, "kind": "interval below 0" if predicted > 0
                        else "interval above 0", "settings": tuple(against["setting"]),
                        "detail": _detail(against)})
    return pd.DataFrame(out, columns=["a", "b", "paper_a", "paper_b", "kind", "settings",
                                      "detail"])


def rho_text(rho: float, low: float, high: float) -> str:
    """ρ with its 95% interval, e.g. "+0.62 [+0.31, +0.85]"; "undefined" without a ρ."""
    if not np.isfinite(rho):
        return "undefined"
    interval = (f" [{low:+.2f}, {high:+.2f}]" if np.isfinite(low) and np.isfinite(high)
                else " [interval undefined]")
    return f"{rho:+.2f}{interval}"


def _detail(rows: pd.DataFrame) -> str:
    return "; ".join(f"`{r.setting}`: ρ = {rho_text(r.rho, r.low, r.high)}"
                     for r in rows.itertuples())
