"""dherin2022 tables for figures and claims: per-run GC, swept value and final losses.

GC of a run is the measure stage's ``geometric_complexity_mean`` on all its training points
(eval mode) at its last checkpoint: the end of training, or the matched-loss step where a member
stopped at ``target_loss`` (E7/E8), or initialisation (E1). Train/test loss and accuracy are the
trainer's log at the run's last logged step. ρ is Spearman's correlation over all (value, seed)
runs and ``ratio`` the median GC at the largest value over the median at the smallest
(docs/protocols/dherin2022.md §6).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from trainlens.stats.rank import spearman

# experiment -> the runs-table column of its swept value (docs/protocols/dherin2022.md §3)
SWEPT: dict[str, str] = {
    "e1": "model_depth", "e2": "train_weight_decay", "e3": "train_spectral_penalty",
    "e4": "train_flatness_penalty", "e5": "train_gc_penalty", "e6_input_noise": "train_input_noise",
    # e6_label_noise: label-noise SGD (primary); e6_label_noise_fixed: labels corrupted once
    "e6_label_noise": "train_label_noise", "e6_label_noise_fixed": "data_label_noise",
    "e7": "train_lr", "e8": "train_batch_size",
    "e9": "model_widths", "e9_resnet": "model_width",
}


def _value(row: pd.Series) -> float:
    raw = row[SWEPT[row["experiment"]]]
    if isinstance(raw, str):  # model_widths: the JSON list of the one hidden layer of E9
        raw = json.loads(raw)[0]
    return float(raw)


def _last(metrics: pd.DataFrame, metric: str, split: str) -> pd.Series:
    rows = metrics[(metrics["metric"] == metric) & (metrics["split"] == split)]
    return rows.sort_values("step").groupby("run_id")["value"].last()


def _first(metrics: pd.DataFrame, metric: str, split: str) -> pd.Series:
    rows = metrics[(metrics["metric"] == metric) & (metrics["split"] == split)]
    return rows.sort_values("step").groupby("run_id")["value"].first()


def run_summary(runs: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per run (index run_id): experiment, seed, status, value, init, gc, gc_test,
    gc_init, final train/test loss and accuracy, stop_step and reached_target."""
    table = runs[runs["experiment"].isin(SWEPT)].set_index("run_id")
    out = pd.DataFrame(index=table.index)
    out["experiment"], out["seed"], out["status"] = (table["experiment"], table["seed"],
                                                     table["status"])
    out["value"] = table.apply(_value, axis=1)
    out["init"] = table.get("model_init", pd.Series("", index=table.index))
    out["gc"] = _last(metrics, "geometric_complexity_mean", "train")
    out["gc_test"] = _last(metrics, "geometric_complexity_mean", "test")
    out["gc_init"] = _first(metrics, "geometric_complexity_mean", "train")
    for split in ("train", "test"):
        out[f"{split}_loss"] = _last(metrics, "loss", split)
        out[f"{split}_accuracy"] = _last(metrics, "accuracy", split)
    out["stop_step"] = table.get("stop_step", pd.Series(np.nan, index=table.index))
    out["reached_target"] = table.get("reached_target",
                                      pd.Series(False, index=table.index)).astype(bool)
    return out


def curves(runs: pd.DataFrame, metrics: pd.DataFrame, metric: str = "geometric_complexity",
           split: str = "train") -> pd.DataFrame:
    """The trainer's logged ``metric`` over steps: run_id, step, metric value and swept value,
    for the runs that did not diverge (a diverging run's last logs are astronomically large)."""
    summary = run_summary(runs, metrics)
    ok = summary.index[summary["status"] == "ok"]
    rows = metrics[(metrics["metric"] == metric) & (metrics["split"] == split)
                   & metrics["run_id"].isin(ok)]
    return rows.assign(swept=rows["run_id"].map(summary["value"]))[
        ["run_id", "step", "value", "swept"]]


def sweep_statistics(summary: pd.DataFrame, experiment: str, column: str = "gc"
                     ) -> dict[str, float | bool]:
    """ρ(value, GC) over all runs of ``experiment``, the ratio of median GC at the largest value
    to the smallest, both medians, and whether every run's GC is finite (the gating condition)."""
    rows = summary[summary["experiment"] == experiment]
    medians = rows.groupby("value")[column].median()
    finite = bool(np.isfinite(rows[column]).all()) and len(rows) > 0
    if medians.empty:
        return {"rho": float("nan"), "ratio": float("nan"), "all_runs_finite": False}
    return {"rho": spearman(rows["value"], rows[column]),
            "ratio": float(medians.iloc[-1] / medians.iloc[0]),
            "gc_at_smallest": float(medians.iloc[0]), "gc_at_largest": float(medians.iloc[-1]),
            "all_runs_finite": finite, "n_runs": float(len(rows))}
