"""Reading the fort2019 measurements back from the tidy tables (figures and claims,
docs/protocols/fort2019.md §5-6).

Which runs serve which experiment: E1 is the lr = 1e-3 slice of the E2 grid at paper scale (spec
§3), so the E1 runs are the ``e1_*`` experiments and, in each configuration that has none (all at
paper scale, FC at cpu scale), the lr = 1e-3 members of ``e2_*``. A *configuration* is one
(dataset, architecture) pair; claims are checked per configuration and must hold in every one.

Init variants (docs/protocols/fort2019.md §2b, F-c): experiments named ``*_pytorch_init`` train
with PyTorch's default init instead of the primary Glorot-uniform/zero-bias one. Their
configuration label says so ("digits FC [PyTorch init]"); claims never read them, figures show
them beside the primary runs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

E1_LR = 1e-3
ARCHITECTURES = {"mlp": "FC", "fort_cnn": "CNN", "resnet20": "ResNet20"}
VARIANT_SUFFIX = "_pytorch_init"
VARIANT_LABEL = " [PyTorch init]"


def run_table(runs: pd.DataFrame) -> pd.DataFrame:
    """run_id, experiment, seed, lr and the configuration label ("digits FC") of every run."""
    table = runs[["run_id", "experiment", "seed"]].copy()
    table["lr"] = runs["train_lr"].astype(float)
    table["variant"] = runs["experiment"].str.endswith(VARIANT_SUFFIX).to_numpy()
    table["config"] = (runs["data_name"] + " " + runs["model_name"].map(ARCHITECTURES).fillna(
        runs["model_name"])).to_numpy()
    table.loc[table["variant"], "config"] += VARIANT_LABEL
    return table.reset_index(drop=True)


def e1_runs(runs: pd.DataFrame, plumbing: bool = False, variants: bool = False
            ) -> pd.DataFrame:
    """The runs of E1 (see the module docstring); ``*_plumbing`` experiments (the smoke
    ResNet20: 1 epoch, a 100-example probe) and init variants only when asked for, never in a
    claim."""
    table = run_table(runs)
    table = table[variants | ~table["variant"]]
    own = table[table["experiment"].str.startswith("e1_")
                & (plumbing | ~table["experiment"].str.endswith("_plumbing"))]
    # E1 is the lr 1e-3 slice of E2 (docs/protocols/fort2019.md §3) in every configuration without
    # an e1_ experiment of its own (paper scale: all; cpu scale: mnist5k FC, beside e1_mnist5k_cnn;
    # smoke: none)
    slice_ = table[table["experiment"].str.startswith("e2_") & np.isclose(table["lr"], E1_LR)]
    slice_ = slice_[~slice_["config"].isin(own["config"])]
    return pd.concat([own, slice_]).reset_index(drop=True)


def experiment_runs(runs: pd.DataFrame, prefix: str, variants: bool = False) -> pd.DataFrame:
    """The runs of every experiment whose name starts with ``prefix`` ("e2_", "e3_"); init
    variants only when asked for."""
    table = run_table(runs)
    return table[table["experiment"].str.startswith(prefix) & (variants | ~table["variant"])]


def curves(metrics: pd.DataFrame, run_ids, split: str, names: list[str]) -> pd.DataFrame:
    """One row per (run_id, step, epoch) of the runs, one column per metric of ``names``."""
    rows = metrics[metrics["run_id"].isin(list(run_ids)) & (metrics["split"] == split)
                   & metrics["metric"].isin(names)]
    wide = rows.set_index(["run_id", "step", "epoch", "metric"])["value"].unstack("metric")
    return wide.reindex(columns=names).reset_index()


def e_star(metrics: pd.DataFrame, run_ids) -> pd.Series:
    """e* per run: the epoch of the checkpoint with the lowest val loss (docs/protocols/fort2019.md
    §4)."""
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


# v1's matched train losses (docs/protocols/fort2019.md §2b, F-a): the lrs are compared there
MATCHED_LOSSES = (0.017, 0.056, 0.177)


def reaches(loss: np.ndarray, target: float) -> bool:
    """Whether a run's train-loss curve comes down to ``target`` at some checkpoint."""
    return bool(np.any(np.asarray(loss) <= target))


def at_loss(loss: np.ndarray, values: np.ndarray, target: float) -> float:
    """A quantity at the first checkpoint crossing of train loss ``target``, linear in log(loss)
    between the two checkpoints around it (docs/protocols/fort2019.md §4, "at a given training
    loss"); NaN when the run never reaches ``target``."""
    log_loss, values = np.log(np.asarray(loss, dtype=float)), np.asarray(values, dtype=float)
    below = np.flatnonzero(log_loss <= np.log(target))
    if len(below) == 0:
        return float("nan")
    k = below[0]
    if k == 0:
        return float(values[0])
    fraction = (log_loss[k - 1] - np.log(target)) / (log_loss[k - 1] - log_loss[k])
    return float(values[k - 1] + fraction * (values[k] - values[k - 1]))


class WorstCase:
    """The worst case over runs (or configurations) of per-run statistics, where a NaN is never
    dropped: one NaN makes the worst case NaN, so its criterion FAILs (docs/protocols/
    fort2019.md §6), and :meth:`nan_report` says which statistic had how many NaN values."""

    def __init__(self) -> None:
        self.nan_counts: dict[str, int] = {}

    def __call__(self, name: str, values: list[float], worst: str) -> float:
        """min (``worst="min"``) or max of ``values``; NaN if there is none or any is NaN."""
        values = [float(v) for v in values]
        n_nan = int(np.isnan(values).sum()) if values else 0
        if n_nan:
            self.nan_counts[name] = self.nan_counts.get(name, 0) + n_nan
        if not values or n_nan:
            return float("nan")
        return float(min(values) if worst == "min" else max(values))

    def nan_report(self) -> dict[str, float]:
        """``nan_statistics`` (total NaN per-run values) and ``nan_in_<name>`` for each
        statistic that had any: the note that explains a FAIL caused by a NaN."""
        return {"nan_statistics": float(sum(self.nan_counts.values())),
                **{f"nan_in_{k}": float(v) for k, v in self.nan_counts.items()}}
