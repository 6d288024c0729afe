"""Trajectory statistics of the first-layer bias b1 (loukas2021 §4.1, §4.5-4.7).

Pure, vectorised functions over a leading member axis M. The training hook
(:class:`trainlens.training.hooks.BiasTrajectoryHook`) calls them once per step; claim checks call
the table-level helpers at the bottom.

Key identity (spec §4.1, invariant U1): with W1 = I, plain SGD and batch size 1,
b_t − b_{t−1} = −η_t·ℓ'_t·∇_x z(x_t; θ_{t−1}), hence the normalised bias step
τ_t = ‖b_t − b_{t−1}‖ / (η_t·|ℓ'_t|) equals λ(x_t; θ_{t−1}), the Lipschitz constant of the linear
region that holds the visited sample. For a batch of B, τ_t = ‖Δb_t‖ / (η_t·mean_i |ℓ'_i|) ≤
max_i λ(x_i) (triangle inequality; the paper's B > 1 statement is not known).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch


def normalized_bias_step(bias_step_norm: torch.Tensor, lr: torch.Tensor,
                         dloss_dz: torch.Tensor) -> torch.Tensor:
    """τ_t = ‖Δb_t‖ / (η_t · mean_i |ℓ'_i|) per member (spec §4.1).

    ``bias_step_norm`` (M,), ``lr`` (M,), ``dloss_dz`` (M, B). Steps with mean |ℓ'| = 0 (an
    exactly fitted sample: no step, no information) give NaN, which the epoch means skip.
    """
    scale = lr * dloss_dz.abs().mean(dim=1)
    return torch.where(scale > 0, bias_step_norm / scale, torch.nan)


def official_cnn_epsilon(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """ε = |1 − p − y| of the official CNN code (pitfall P13), from the probability ``p`` of class
    1 (M, B): the probability given to the labelled class, not the BCE/2 gradient factor
    |p − y|/2. Mean over the batch, shape (M,)."""
    return (1 - p - y.to(p.dtype)).abs().mean(dim=1)


def ema(values: np.ndarray, weight: float = 0.95) -> np.ndarray:
    """s_0 = x_0, s_k = w·s_{k−1} + (1 − w)·x_k along axis 0 (the official smoothing)."""
    out = np.empty_like(values, dtype=float)
    acc = values[0]
    for k, value in enumerate(values):
        acc = value if k == 0 else weight * acc + (1 - weight) * value
        out[k] = acc
    return out


# --- table-level statistics (read metrics.parquet, one value per run) -------------------------

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
