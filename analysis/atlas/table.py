"""The atlas table (issue 29): one row per run, checkpoint step and measure, read from the
atlas's runs and metrics tables (docs/design.md "Tables"). Torch-free.

columns: setting, run_id, seed, varied, knob_value, step, epoch, measure, value

Checkpoint steps are the steps at which a measure-stage probe wrote a row. The loukas2021 epoch
measures are read at each checkpoint step s: τ is the mean of ``trajectory_mean`` over the (up to)
10 epochs whose last step is ≤ s (the paper's τ over the last window); V and d are the values of
the last epoch ending at or before s. A measure a setting does not define has no row, never a zero;
ξ is NaN where its fit is censored (status ≠ 0, trainlens.stats.critical_length.CENSORING).
Only runs with status ``ok`` enter.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COLUMNS = ["setting", "run_id", "seed", "varied", "knob_value", "step", "epoch", "measure",
           "value"]
# measure -> (metric, split), read as is at the checkpoint
DIRECT = {
    "lambda_train_mean": ("lipschitz_mean", "train"),
    "lambda_train_max": ("lipschitz_max", "train"),
    "lambda_test_mean": ("lipschitz_mean", "test"),
    "lambda_far_mean": ("far_field_lipschitz_mean", "far_field"),
    "gc": ("geometric_complexity_mean", "train"),
    "ntk_diagonal": ("ntk_diagonal_mean", "train"),
    "pr_w": ("weight_participation_ratio", "params"),
    "train_loss": ("checkpoint_loss", "train"),
    "test_loss": ("checkpoint_loss", "test"),
    "train_error": ("checkpoint_error", "train"),
    "test_error": ("checkpoint_error", "test"),
}
# measure -> (minuend, subtrahend), both (metric, split)
DIFFERENCES = {
    "stiffness_cos_delta": (("stiffness_within_cos", "vv"), ("stiffness_between_cos", "vv")),
    "stiffness_sign_delta": (("stiffness_within_sign", "vv"), ("stiffness_between_sign", "vv")),
    "gen_gap": (("checkpoint_loss", "test"), ("checkpoint_loss", "train")),
}
XI = ("xi_fit", "vv")
XI_STATUS = ("xi_fit_status", "vv")
# loukas2021 epoch measures (BiasTrajectoryHook, split train): the last epoch ending ≤ s
LAST_EPOCH = {"variance_v": "update_variance", "distance_d": "distance_from_init"}
TAU = "trajectory_mean"
TAU_WINDOW = 10  # epochs (loukas2021 τ over the last window)

MEASURES = ["lambda_train_mean", "lambda_train_max", "lambda_test_mean", "lambda_far_mean", "tau",
            "variance_v", "distance_d", "gc", "stiffness_cos_delta", "stiffness_sign_delta",
            "xi", "ntk_diagonal", "pr_w"]
OUTCOMES = ["train_loss", "test_loss", "train_error", "test_error", "gen_gap"]
ORDER = MEASURES + OUTCOMES

CHECKPOINT_KEYS = sorted({*DIRECT.values(), *(k for pair in DIFFERENCES.values() for k in pair),
                          XI, XI_STATUS})


def knob_column(varied: str) -> str:
    """The runs column of a dotted grid key: "train.lr" -> "train_lr"."""
    return varied.replace(".", "_")


def knob_values(runs: pd.DataFrame) -> pd.Series:
    """Each run's value of the key it varies (NaN for the base point), as floats."""
    def value(row) -> float:
        if row["varied"] == "base":
            return np.nan
        try:  # a non-numeric setting (a list of widths, a name) has no knob value
            return float(row.get(knob_column(row["varied"]), np.nan))
        except (TypeError, ValueError):
            return np.nan

    return runs.apply(value, axis=1).astype(float) if len(runs) else pd.Series(dtype=float)


def _checkpoint_wide(metrics: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Values and presence of every checkpoint (metric, split) per (run_id, step), and the
    checkpoint's epoch. Absent and NaN are kept apart: NaN is a value, absence is no row."""
    keys = pd.MultiIndex.from_arrays([metrics["metric"], metrics["split"]])
    rows = metrics[keys.isin(CHECKPOINT_KEYS)].copy()
    rows["key"] = rows["metric"] + "|" + rows["split"]
    rows = rows.drop_duplicates(["run_id", "step", "key"], keep="last")
    index = ["run_id", "step", "key"]
    values = rows.set_index(index)["value"].unstack("key")
    present = rows.assign(present=True).set_index(index)["present"].unstack(
        "key", fill_value=False)
    epoch = rows.groupby(["run_id", "step"])["epoch"].first()
    return values, present.astype(bool), epoch


def _column(frame: pd.DataFrame, key: tuple[str, str], fill) -> pd.Series:
    name = f"{key[0]}|{key[1]}"
    return frame[name] if name in frame else pd.Series(fill, index=frame.index)


def _checkpoint_measures(metrics: pd.DataFrame) -> pd.DataFrame:
    """Long rows (run_id, step, epoch, measure, value) of every measure read at a checkpoint."""
    values, present, epoch = _checkpoint_wide(metrics)
    parts = []

    def add(measure: str, value: pd.Series, mask: pd.Series) -> None:
        parts.append(pd.DataFrame({"measure": measure, "value": value[mask].astype(float)}))

    for measure, key in DIRECT.items():
        add(measure, _column(values, key, np.nan), _column(present, key, False))
    for measure, (a, b) in DIFFERENCES.items():
        add(measure, _column(values, a, np.nan) - _column(values, b, np.nan),
            _column(present, a, False) & _column(present, b, False))
    status = _column(values, XI_STATUS, np.nan)
    censored = _column(present, XI_STATUS, False) & (status != 0)
    add("xi", _column(values, XI, np.nan).mask(censored), _column(present, XI, False))
    long = pd.concat(parts).reset_index()
    long["epoch"] = epoch.reindex(pd.MultiIndex.from_frame(long[["run_id", "step"]])).to_numpy()
    return long


def _epoch_measures(metrics: pd.DataFrame, checkpoints: pd.DataFrame) -> pd.DataFrame:
    """τ (window mean), V and d (last epoch) at each checkpoint step (loukas2021 §3, Cor. 2-3)."""
    sources = {"tau": TAU, **LAST_EPOCH}
    train = metrics[(metrics["split"] == "train") & metrics["metric"].isin(sources.values())]
    by_run = dict(tuple(train.groupby("run_id")))  # one pass over the (large) metrics table
    rows = []
    for run_id, steps in checkpoints.groupby("run_id"):
        run = by_run.get(run_id)
        for measure, metric in sources.items():
            if run is None:
                break
            epochs = run[run["metric"] == metric]
            epochs = epochs.drop_duplicates("step", keep="last").sort_values("step")
            if epochs.empty:
                continue
            ends, vals = epochs["step"].to_numpy(), epochs["value"].to_numpy(dtype=float)
            for step, epoch in zip(steps["step"], steps["epoch"]):
                k = int(np.searchsorted(ends, step, side="right"))  # epochs ending ≤ step
                if k == 0:
                    continue  # no epoch has ended: undefined, no row
                value = (vals[max(0, k - TAU_WINDOW):k].mean() if measure == "tau"
                         else vals[k - 1])
                rows.append({"run_id": run_id, "step": step, "epoch": epoch,
                             "measure": measure, "value": float(value)})
    return pd.DataFrame(rows, columns=["run_id", "step", "epoch", "measure", "value"])


def atlas_table(runs: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """The atlas table (docs: analysis/atlas/notes.md): one row per ok run, checkpoint step and
    measure, with the run's setting, seed, varied knob and its value."""
    ok = runs[runs["status"] == "ok"].copy()
    ok["knob_value"] = knob_values(ok)
    metrics = metrics[metrics["run_id"].isin(ok["run_id"])]
    at_checkpoints = _checkpoint_measures(metrics)
    checkpoints = at_checkpoints[["run_id", "step", "epoch"]].drop_duplicates(["run_id", "step"])
    long = pd.concat([at_checkpoints, _epoch_measures(metrics, checkpoints)], ignore_index=True)
    info = ok[["run_id", "experiment", "seed", "varied", "knob_value"]].rename(
        columns={"experiment": "setting"})
    table = long.merge(info, on="run_id", how="inner")
    table["order"] = table["measure"].map({m: i for i, m in enumerate(ORDER)})
    table = table.sort_values(["setting", "run_id", "step", "order"], kind="stable")
    table["step"] = table["step"].astype("int64")
    return table[COLUMNS].reset_index(drop=True)
