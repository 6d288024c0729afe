"""Reading the fort2019 measurements back from the tidy tables (figures and claims, spec §5-6).

Which runs serve which experiment: E1 is the lr = 1e-3 slice of the E2 grid at paper scale (spec
§3), so the E1 runs are the ``e1_*`` experiments when the scale has them (smoke) and otherwise
the lr = 1e-3 members of ``e2_*``. A *configuration* is one (dataset, architecture) pair; claims
are checked per configuration and must hold in every one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

E1_LR = 1e-3
ARCHITECTURES = {"mlp": "FC", "fort_cnn": "CNN", "resnet20": "ResNet20"}


def run_table(runs: pd.DataFrame) -> pd.DataFrame:
    """run_id, experiment, seed, lr and the configuration label ("digits FC") of every run."""
    table = runs[["run_id", "experiment", "seed"]].copy()
    table["lr"] = runs["train_lr"].astype(float)
    table["config"] = runs["data_name"] + " " + runs["model_name"].map(ARCHITECTURES).fillna(
        runs["model_name"])
    return table.reset_index(drop=True)


def e1_runs(runs: pd.DataFrame, plumbing: bool = False) -> pd.DataFrame:
    """The runs of E1 (see the module docstring); ``*_plumbing`` experiments (the smoke
    ResNet20: 1 epoch, a 100-example probe) only when asked for, never in a claim."""
    table = run_table(runs)
    own = table[table["experiment"].str.startswith("e1_")
                & (plumbing | ~table["experiment"].str.endswith("_plumbing"))]
    if len(own):
        return own
    return table[table["experiment"].str.startswith("e2_") & np.isclose(table["lr"], E1_LR)]


def experiment_runs(runs: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """The runs of every experiment whose name starts with ``prefix`` ("e2_", "e3_")."""
    table = run_table(runs)
    return table[table["experiment"].str.startswith(prefix)]


def curves(metrics: pd.DataFrame, run_ids, split: str, names: list[str]) -> pd.DataFrame:
    """One row per (run_id, step, epoch) of the runs, one column per metric of ``names``."""
    rows = metrics[metrics["run_id"].isin(list(run_ids)) & (metrics["split"] == split)
                   & metrics["metric"].isin(names)]
    wide = rows.set_index(["run_id", "step", "epoch", "metric"])["value"].unstack("metric")
    return wide.reindex(columns=names).reset_index()


def e_star(metrics: pd.DataFrame, run_ids) -> pd.Series:
    """e* per run: the epoch of the checkpoint with the lowest val loss (spec §4)."""
    loss = curves(metrics, run_ids, "val", ["checkpoint_loss"])
    best = loss.loc[loss.groupby("run_id")["checkpoint_loss"].idxmin()]
    return best.set_index("run_id")["epoch"]


def distance_curve(metrics: pd.DataFrame, run_id: str, step: int, split: str = "vv"
                   ) -> pd.DataFrame:
    """The binned within-class S_cos against distance: columns centre, mean, sem, count."""
    rows = metrics[(metrics["run_id"] == run_id) & (metrics["step"] == step)
                   & (metrics["split"] == split)
                   & metrics["metric"].str.match(r"distance_bin\d+_")]
    parts = rows["metric"].str.extract(r"distance_bin(\d+)_(\w+)")
    table = rows.assign(bin=parts[0].astype(int), field=parts[1]).set_index(
        ["bin", "field"])["value"].unstack("field")
    return table.reindex(columns=["centre", "mean", "sem", "count"]).sort_index()


def class_matrix(metrics: pd.DataFrame, run_id: str, step: int, measure: str = "cos"
                 ) -> np.ndarray:
    """The vv class-stiffness matrix C (classes × classes) of one checkpoint."""
    rows = metrics[(metrics["run_id"] == run_id) & (metrics["step"] == step)
                   & metrics["metric"].str.startswith(f"class_{measure}_")]
    pairs = rows["metric"].str.extract(rf"class_{measure}_(\d+)_(\d+)").astype(int)
    n = int(pairs.max().max()) + 1
    matrix = np.full((n, n), np.nan)
    matrix[pairs[0].to_numpy(), pairs[1].to_numpy()] = rows["value"].to_numpy()
    return matrix
