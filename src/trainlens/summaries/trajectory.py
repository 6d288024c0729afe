"""Trajectory statistics of the loukas2021 tables (§4.5-4.7): per-epoch rows and one value per
run (τ over the last epochs, total trajectory T, final values), and the official smoothing.

The per-step quantities they summarise are computed during training by
:mod:`trainlens.probes.trajectory` (the bias-step identity of spec §4.1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def ema(values: np.ndarray, weight: float = 0.95) -> np.ndarray:
    """s_0 = x_0, s_k = w·s_{k−1} + (1 − w)·x_k along axis 0 (the official smoothing)."""
    out = np.empty_like(values, dtype=float)
    acc = values[0]
    for k, value in enumerate(values):
        acc = value if k == 0 else weight * acc + (1 - weight) * value
        out[k] = acc
    return out


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


def total(metrics: pd.DataFrame, metric: str = "trajectory", split: str = "train") -> pd.Series:
    """Total trajectory at the end: Σ_k T_k over all epochs of each run (spec §4.5)."""
    rows = per_epoch(metrics, metric, split)
    return rows.groupby("run_id")["value"].apply(lambda v: float(np.nansum(v.to_numpy())))


def final_value(metrics: pd.DataFrame, metric: str, split: str) -> pd.Series:
    """The value of ``metric`` at each run's last recorded step."""
    rows = per_epoch(metrics, metric, split)
    return rows.groupby("run_id")["value"].last()
