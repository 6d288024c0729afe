"""Trajectory statistics of the loukas2021 tables (docs/protocols/loukas2021.md §4.5-4.7, §2b
P-e, P-f): per-epoch rows and one value per run (τ over the last epochs, total trajectory, the
final Corollary 2 variance, final values).

The per-step quantities they summarise are computed during training by
:mod:`trainlens.probes.trajectory` (the bias-step identity of §4.1). Metric names:
``trajectory`` is the epoch sum T_k = Σ_{t∈k} τ_t (§2b P-e) and ``trajectory_mean`` the epoch
mean, so that τ_last10 (a per-iteration mean, §4.5) is the mean of ``trajectory_mean`` over the
last 10 epochs; ``update_variance`` is Corollary 2's window variance over the last 10 epochs, read
at the run's last epoch (§2b P-f). The official smoothing (an EMA) is the generic
:func:`trainlens.stats.curves.ema`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def per_epoch(metrics: pd.DataFrame, metric: str, split: str = "train") -> pd.DataFrame:
    """Rows of one per-epoch metric, sorted by run and step."""
    rows = metrics[(metrics["metric"] == metric) & (metrics["split"] == split)]
    return rows.sort_values(["run_id", "step"])


def last_epochs_mean(metrics: pd.DataFrame, metric: str, n_epochs: int = 10,
                     split: str = "train") -> pd.Series:
    """Mean of a per-epoch metric over each run's last ``n_epochs`` epochs (τ_last10, V, d)."""
    rows = per_epoch(metrics, metric, split)
    return rows.groupby("run_id")["value"].apply(lambda v: float(np.nanmean(v.iloc[-n_epochs:])))


def last_epochs_max(metrics: pd.DataFrame, metric: str, n_epochs: int = 10,
                    split: str = "train") -> pd.Series:
    """Max of a per-epoch metric over each run's last ``n_epochs`` epochs."""
    rows = per_epoch(metrics, metric, split)
    return rows.groupby("run_id")["value"].apply(lambda v: float(np.nanmax(v.iloc[-n_epochs:])))


def tau_last10(metrics: pd.DataFrame, n_epochs: int = 10) -> pd.Series:
    """τ_last10: the mean primary τ_t per iteration over each run's last ``n_epochs`` epochs
    (§4.5); every epoch of a run has the same number of steps."""
    return last_epochs_mean(metrics, "trajectory_mean", n_epochs)


def window_variance(metrics: pd.DataFrame) -> pd.Series:
    """V of Corollary 2 (§2b P-f): the window variance over the last 10 epochs, at each run's
    last epoch."""
    return final_value(metrics, "update_variance", "train")


def total(metrics: pd.DataFrame, metric: str = "trajectory", split: str = "train") -> pd.Series:
    """Total trajectory at the end: Σ_k T_k over all epochs of each run, i.e. Σ_t τ_t over every
    step (§4.5, the per-epoch T_k being epoch sums, §2b P-e)."""
    rows = per_epoch(metrics, metric, split)
    return rows.groupby("run_id")["value"].apply(lambda v: float(np.nansum(v.to_numpy())))


def final_value(metrics: pd.DataFrame, metric: str, split: str) -> pd.Series:
    """The value of ``metric`` at each run's last recorded step."""
    rows = per_epoch(metrics, metric, split)
    return rows.groupby("run_id")["value"].last()
