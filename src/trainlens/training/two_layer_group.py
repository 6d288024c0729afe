"""Train one nakazato2024 group (``trainer: two_layer``) from its config.json; write its outputs.

The ``trainlens train`` entry for groups of the closed-form two-layer trainer, with the same
outputs as ``training.group.train_group``: runs.parquet, train_metrics.parquet (t_c and, for E3,
the two-time series), stacked checkpoints at the probe times, and trace.npz (run ids only).
Members are split by activation into sub-ensembles; each member's data, init, minibatch order
and Langevin noise come from its own seed's streams.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from trainlens.experiments.train_config import TrainConfig
from trainlens.experiments.typed import make_dataclass_config
from trainlens.io import atomic_write, save_npz
from trainlens.members import flatten_block
from trainlens.members.two_layer import member_blocks, member_data
from trainlens.models.two_layer import init_params
from trainlens.seeds import RunStreams
from trainlens.tables import write_table
from trainlens.training.group import run_row
from trainlens.training.job import JobState, finish_job, save_checkpoint, work_checkpoints
from trainlens.training.two_layer_trainer import (
    MinibatchStream,
    SubEnsemble,
    TwoTimeConfig,
    train_sub_ensemble,
)

SHARED_TRAIN_KEYS = ("steps", "dtype", "checkpoints", "probe_times")


def _shared(config: dict[str, Any], trains: list[TrainConfig]) -> TrainConfig:
    for key in SHARED_TRAIN_KEYS:
        values = {json.dumps(getattr(t, key)) for t in trains}
        if len(values) > 1:
            raise ValueError(f"group {config['group_id']}: train.{key} must be equal for every "
                             f"member of a group, got {sorted(values)}; put it outside "
                             "ensemble_over")
    return trains[0]


def _sub_ensemble(config: dict[str, Any], members: list[dict[str, Any]],
                  data_root: Path) -> SubEnsemble:
    blocks = [member_blocks(config, m) for m in members]
    splits = [member_data(config, m, data_root) for m in members]
    sizes = {s.x_train.shape for s in splits}
    if len(sizes) > 1:
        raise ValueError(f"group {config['group_id']}: members of one activation need equal "
                         f"data shapes to train together, got {sorted(sizes)}")
    params = [init_params(model, RunStreams(m["seed"]).torch("init")) for m, (_, model, _)
              in zip(members, blocks)]
    dtype = torch.float64
    n = splits[0].x_train.shape[0]
    return SubEnsemble(
        activation=blocks[0][1].activation,
        losses=[train.loss for _, _, train in blocks],
        x=torch.stack([s.x_train for s in splits]), y=torch.stack([s.y_train for s in splits]),
        params={k: torch.cat([p[k] for p in params]) for k in params[0]},
        lr=torch.tensor([train.lr for _, _, train in blocks], dtype=dtype),
        temperature=torch.tensor([t.langevin_temperature for _, _, t in blocks], dtype=dtype),
        streams=[MinibatchStream(n, train.batch_size, RunStreams(m["seed"]).torch("order"), dtype)
                 for m, (_, _, train) in zip(members, blocks)],
        noise=[RunStreams(m["seed"]).torch("noise") for m in members])


def _two_time(config: dict[str, Any]) -> TwoTimeConfig | None:
    block = config.get("record", {}).get("two_time")
    if not block:
        return None
    values = {**block, "waiting_times": tuple(block["waiting_times"])}
    return make_dataclass_config(TwoTimeConfig, values, f"group {config['group_id']}: two_time")


def train_two_layer_group(config_path: str | Path, data_root: str | Path, runs_out: str | Path,
                          metrics_out: str | Path, checkpoints_dir: str | Path,
                          trace_out: str | Path | None = None, device: str = "cpu",
                          state_dir: str | Path | None = None, save_interval_s: float = 60.0
                          ) -> pd.DataFrame:
    """Train every member of the group, one activation (part) at a time; returns the runs table
    part. With ``state_dir``, the job saves its state there (at most every ``save_interval_s``
    seconds) and resumes from it when restarted. The device is always the CPU: a network this
    small gains nothing from a GPU (docs/protocols/nakazato2024.md §8)."""
    with open(config_path) as handle:
        config = json.load(handle)
    if device != "cpu":
        print(f"[{config['group_id']}] the closed-form two-layer trainer runs on the CPU "
              f"(asked for {device}; docs/protocols/nakazato2024.md §8: no GPU is needed)",
              file=sys.stderr)
    members = config["members"]
    train = _shared(config, [member_blocks(config, m)[2] for m in members])
    two_time = _two_time(config)
    steps = train.steps if not two_time else max(two_time.waiting_times) + two_time.tau_max
    schedule = [s for s in train.schedule() if s <= steps] + [steps]
    by_activation: dict[str, list[int]] = {}
    for index, member in enumerate(members):
        by_activation.setdefault(member["model"]["activation"], []).append(index)
    merged = _Merged(len(members))
    start = time.perf_counter()
    job = JobState(state_dir, save_interval_s, config)
    for number, (activation, indices) in enumerate(by_activation.items()):
        if number >= len(job.done):
            sub = _sub_ensemble(config, [members[i] for i in indices], Path(data_root))
            job.finish_part(vars(train_sub_ensemble(sub, steps, schedule, two_time,
                                                    config["group_id"], job, number)))
        merged.add(job.done[number], indices, [members[i]["run_id"] for i in indices])
        print(f"[{config['group_id']}] {activation}: {len(indices)} runs x {steps} steps, "
              f"{time.perf_counter() - start:.1f}s so far", file=sys.stderr, flush=True)
    first, diverged, checkpoints, rows = (merged.first, merged.diverged, merged.checkpoints,
                                          merged.rows)
    wall = time.perf_counter() - start
    run_ids = [m["run_id"] for m in members]
    _write_checkpoints(work_checkpoints(state_dir, checkpoints_dir), checkpoints, run_ids)
    write_table(_metrics(run_ids, first, steps, rows, diverged), metrics_out, "metrics")
    if trace_out is not None:
        atomic_write(trace_out, lambda tmp: save_npz(tmp, run_ids=np.asarray(run_ids)))
    runs = pd.DataFrame([run_row(config, m["run_id"], m["seed"], diverged[i], wall, "cpu",
                                 {**flatten_block("data", m["data"]),
                                  **flatten_block("model", m["model"]),
                                  **flatten_block("train", m["train"])})
                         for i, m in enumerate(members)])
    write_table(runs, runs_out, "runs")
    finish_job(state_dir, checkpoints_dir)  # last: until every output is in place, it can resume
    return runs


class _Merged:
    """The results of the group's parts (activations), in the group's member order."""

    def __init__(self, n_members: int) -> None:
        self.n_members = n_members
        self.first = np.full(n_members, np.nan)
        self.diverged: list[int | None] = [None] * n_members
        self.checkpoints: dict[int, dict[str, list[torch.Tensor]]] = {}
        self.rows: list[dict[str, Any]] = []

    def add(self, result: dict[str, Any], indices: list[int], run_ids: list[str]) -> None:
        """Part ``result`` (a ``SubResult`` as a dict) of the members ``indices``."""
        t_c = result["first_interpolation"].numpy().astype(float)
        self.first[indices] = np.where(t_c < 0, np.nan, t_c)
        for local, index in enumerate(indices):
            self.diverged[index] = result["diverged_step"][local]
        for step, params in result["checkpoints"].items():
            stacked = self.checkpoints.setdefault(step, {k: [None] * self.n_members
                                                         for k in params})
            for k, v in params.items():
                for local, index in enumerate(indices):
                    stacked[k][index] = v[local]
        for row in result["two_time"]:
            row["run_id"] = run_ids[row.pop("run")]
        self.rows += result["two_time"]


def _write_checkpoints(directory: Path, checkpoints: dict[int, dict[str, list[torch.Tensor]]],
                       run_ids: list[str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for step, params in checkpoints.items():
        save_checkpoint(directory, step, float(step), run_ids,
                        {k: torch.stack(v) for k, v in params.items()})


def _metrics(run_ids: list[str], first: np.ndarray, steps: int, two_time: list[dict[str, Any]],
             diverged: list[int | None]) -> pd.DataFrame:
    """t_c per run (NaN: train accuracy never reached 1), then the two-time series with the
    waiting time as ``split`` (``t_w=<t_w>``); ``epoch`` is the step (one step per "epoch")."""
    table = pd.DataFrame({"run_id": run_ids, "step": steps, "epoch": float(steps),
                          "split": "train", "metric": "t_c", "value": first})
    if two_time:
        series = pd.DataFrame(two_time)
        series = series.assign(split="t_w=" + series.pop("t_w").astype(str),
                               epoch=series["step"].astype(float))
        table = pd.concat([table, series[list(table.columns)]], ignore_index=True)
    limit = dict(zip(run_ids, [np.inf if d is None else d for d in diverged]))
    keep = (table["metric"] == "t_c") | (table["step"] < table["run_id"].map(limit))
    return table[keep].astype({"step": "int64"}).reset_index(drop=True)

