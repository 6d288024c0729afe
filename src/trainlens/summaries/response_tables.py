"""nakazato2024 per-run statistics from the tidy tables, shared by its figures and claims.

One row per run with its setting (activation, loss, method) and the aging statistics of spec
§4.3 computed on its probe-time series: late slope of Ā on [T/10, T] (α̂ = −slope), early slope
on [1, min(20, t_c/3)], the late slopes of ē and of the mean off-diagonal Θ, the K̂ drift
K̂(T) − K̂(T/10), the factorisation gap slope(Ā) − (slope(ē) + slope(Θ)) (C4), Ā(T)/Ā(T/10) (C6)
and the relative change of PR_W over training. Slopes are per run; claims take medians over seeds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trainlens.summaries.aging import early_window_end, late_slope, log_log_slope, value_at

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
