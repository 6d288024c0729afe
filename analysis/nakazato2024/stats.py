"""nakazato2024 statistics of the tidy tables, shared by its figures and claims
(docs/protocols/nakazato2024.md §4.3-4.4): aging slopes, two-time collapse scores and one row of
aging statistics per run.

Slopes are least-squares fits of log v against log t over the probe times inside a window
(:func:`trainlens.stats.curves.log_log_slope`), with non-positive or non-finite values excluded
(docs/protocols/nakazato2024.md §4.7: Ā underflows to 0 for relu + MSE). The collapse score
measures how well χ(t_w + τ, t_w)/χ(τ = 1) curves for several waiting times fall onto one curve
on a given axis: at each of 20 log-spaced grid points, the spread (max − min over t_w) of
log(χ/χ(τ=1)) interpolated in log τ; the score is the largest spread.

The per-run table (:func:`aging_table`) holds each run's setting (activation, loss, method) and
the aging statistics of §4.3 computed on its probe-time series: late slope of Ā on [T/10, T]
(α̂ = −slope), early slope on [1, min(20, t_c/3)], the late slopes of ē and of the mean
off-diagonal Θ, the K̂ drift K̂(T) − K̂(T/10), the factorisation gap slope(Ā) − (slope(ē) +
slope(Θ)) (C4), Ā(T)/Ā(T/10) (C6) and the relative change of PR_W over training. Slopes are per
run; claims take medians over seeds.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from trainlens.stats.curves import log_log_slope

GRID_POINTS = 20
GRID_RANGE = (0.1, 3.0)


def late_slope(t: np.ndarray, values: np.ndarray, total_steps: int) -> float:
    """The aging slope on the late window [T/10, T] (docs/protocols/nakazato2024.md §4.3)."""
    return log_log_slope(t, values, total_steps / 10, total_steps)


def early_window_end(t_c: float) -> float:
    """End of the early (plateau) window: min(20, t_c/3) (docs/protocols/nakazato2024.md §4.3)."""
    return min(20.0, t_c / 3)


def value_at(t: np.ndarray, values: np.ndarray, when: float) -> float:
    """The value at the probe time closest to ``when`` in log t."""
    t = np.asarray(t, dtype=float)
    index = int(np.argmin(np.abs(np.log(np.maximum(t, 1)) - np.log(max(when, 1)))))
    return float(np.asarray(values, dtype=float)[index])


def collapse_score(curves: Mapping[int, tuple[np.ndarray, np.ndarray]], scaled: bool,
                   mu: float = 1.0) -> float:
    """Spread of log(χ/χ(τ=1)) across waiting times on one axis (docs/protocols/nakazato2024.md
    §4.4).

    ``curves`` maps t_w to (τ, χ) with τ = 1 among the τ. ``scaled``: the grid is τ/t_w^μ in
    [0.1, 3]; otherwise τ in [0.1, 3]·t_w,min (the raw axis). Grid points outside a curve's τ
    range are skipped for that curve; NaN if no grid point is shared by two curves.
    """
    grid = np.geomspace(*GRID_RANGE, GRID_POINTS)
    t_w_min = min(curves)
    spreads = []
    for g in grid:
        logs = []
        for t_w, (tau, chi) in curves.items():
            tau, chi = np.asarray(tau, dtype=float), np.asarray(chi, dtype=float)
            keep = (tau > 0) & (chi > 0) & np.isfinite(chi)
            tau, chi = tau[keep], chi[keep]
            if not np.any(tau == 1):
                continue
            target = g * (t_w**mu if scaled else t_w_min)
            if tau.min() <= target <= tau.max():
                normalised = np.log(chi / chi[tau == 1][0])
                logs.append(np.interp(np.log(target), np.log(tau), normalised))
        if len(logs) >= 2:
            spreads.append(max(logs) - min(logs))
    return float(max(spreads)) if spreads else float("nan")


def best_aging_exponent(curves: Mapping[int, tuple[np.ndarray, np.ndarray]],
                        candidates: np.ndarray | None = None) -> float:
    """μ in [0.3, 1.2] minimising the scaled collapse score (the optional fit of
    docs/protocols/nakazato2024.md §4.4)."""
    candidates = np.linspace(0.3, 1.2, 19) if candidates is None else candidates
    scores = np.array([collapse_score(curves, True, mu) for mu in candidates])
    if np.all(np.isnan(scores)):
        return float("nan")
    return float(candidates[np.nanargmin(scores)])


def chi_ratio(tau: np.ndarray, chi: np.ndarray, t_w: int) -> float:
    """χ(τ = t_w)/χ(τ = t_w/10), log-interpolated (docs/protocols/nakazato2024.md §6 C7)."""
    tau, chi = np.asarray(tau, dtype=float), np.asarray(chi, dtype=float)
    keep = (tau > 0) & (chi > 0)
    log_chi = lambda when: np.interp(np.log(when), np.log(tau[keep]), np.log(chi[keep]))  # noqa: E731
    return float(np.exp(log_chi(t_w) - log_chi(t_w / 10)))


SETTING_COLUMNS = {"model_activation": "activation", "train_loss": "loss",
                   "train_batch_size": "batch_size"}


def method_label(batch_size: int) -> str:
    """0 (the full batch) is GD; otherwise SGD with its batch size."""
    return "GD" if int(batch_size) == 0 else f"SGD bs {int(batch_size)}"


def settings(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs with activation, loss, batch_size, method and steps columns, indexed by run_id."""
    frame = runs.set_index("run_id").rename(columns=SETTING_COLUMNS)
    frame = frame.assign(method=frame["batch_size"].map(method_label),
                         steps=frame["train_steps"].astype(int))
    return frame[["experiment", "seed", "activation", "loss", "batch_size", "method", "steps"]]


def series(metrics: pd.DataFrame, metric: str, split: str = "train") -> pd.DataFrame:
    """run_id, step, value of one metric, sorted by step."""
    rows = metrics[(metrics["metric"] == metric) & (metrics["split"] == split)]
    return rows[["run_id", "step", "value"]].sort_values(["run_id", "step"])


def _per_run(metrics: pd.DataFrame, metric: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {run: (rows["step"].to_numpy(), rows["value"].to_numpy())
            for run, rows in series(metrics, metric).groupby("run_id")}


def final_values(metrics: pd.DataFrame, metric: str) -> pd.Series:
    """The value at each run's last probe time."""
    rows = series(metrics, metric)
    return rows.groupby("run_id")["value"].last()


def aging_table(runs: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per run that has response metrics: its setting and the statistics above."""
    table = settings(runs)
    t_c = metrics[metrics["metric"] == "t_c"].set_index("run_id")["value"]
    response, error = _per_run(metrics, "response_mean"), _per_run(metrics, "error_factor")
    kernel, khat = _per_run(metrics, "ntk_offdiag"), _per_run(metrics, "khat_offdiag")
    pr = _per_run(metrics, "pr_weights")
    rows = []
    for run_id in table.index.intersection(list(response)):
        total = int(table.at[run_id, "steps"])
        t, a = response[run_id]
        first = float(t_c.get(run_id, np.nan))
        slopes = {name: late_slope(*series_[run_id], total)
                  for name, series_ in (("error_slope", error), ("ntk_slope", kernel))}
        row = {"run_id": run_id, "t_c": first, "late_slope": late_slope(t, a, total),
               "early_slope": (log_log_slope(t, a, 1, early_window_end(first))
                               if np.isfinite(first) else np.nan),
               **slopes,
               "khat_drift": value_at(*khat[run_id], total) - value_at(*khat[run_id], total / 10),
               "late_ratio": _ratio(value_at(t, a, total), value_at(t, a, total / 10))}
        row["alpha"] = -row["late_slope"]
        row["factor_gap"] = row["late_slope"] - (slopes["error_slope"] + slopes["ntk_slope"])
        if run_id in pr:
            steps, values = pr[run_id]
            row["pr_change"] = (values[-1] - values[0]) / values[0]
        rows.append(row)
    return table.join(pd.DataFrame(rows).set_index("run_id"), how="inner")


def _ratio(numerator: float, denominator: float) -> float:
    """Ā(T)/Ā(T/10) kept finite when Ā underflows to 0 (docs/protocols/nakazato2024.md §4.7): 0/0
    is NaN, x/0 is inf."""
    if denominator == 0:
        return float("nan") if numerator == 0 else float("inf")
    return numerator / denominator


def two_time_curves(metrics: pd.DataFrame, run_id: str, metric: str = "chi_probe"
                    ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """t_w -> (τ, χ) of one E3 run, from the ``t_w=<t_w>`` splits."""
    rows = metrics[(metrics["run_id"] == run_id) & (metrics["metric"] == metric)]
    curves = {}
    for split, part in rows.groupby("split"):
        t_w = int(str(split).split("=")[1])
        part = part.sort_values("step")
        curves[t_w] = (part["step"].to_numpy() - t_w, part["value"].to_numpy())
    return curves
