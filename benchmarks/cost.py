"""What paper scale costs: every training group timed for a fixed number of steps after a
warm-up, through its own engine, and scaled to the group's full length.

- ``ensemble`` (loukas2021): ``train_group`` as ``trainlens train`` runs it, with one timing hook
  added to its hooks (the job's own hooks, checkpoints and epoch-end test evaluation run too);
  compiled where the group's config compiles (the compile falls in the warm-up).
- ``regularized`` (dherin2022, fort2019): each sub-ensemble through the job's own
  ``_train_part``, its step count read off the loop's progress calls.
- ``two_layer`` (nakazato2024): the closed-form trainer runs on the CPU whatever the device; each
  activation's sub-ensemble (with E3's kicked copies) timed over ``warmup`` and ``warmup + steps``
  steps, the difference divided by ``steps``.

Full length: ``epochs x steps per epoch`` at the full training-set size (ensemble), ``steps``
(regularized), ``steps`` or ``max(t_w) + tau_max`` (two_layer). Not included: the measure stage
(probes on checkpoints), the regularized loop's periodic logs and target-loss checks (full passes
over the data every ``log_every`` and ``check_every`` steps), checkpoint saves (a few dozen per
job, switched off while timing: log-spaced, they crowd the first steps, where the window sits)
and job start-up; the estimate is
the training steps alone, so a lower bound on a group's wall time. Image sets are capped to a
few thousand examples per member (``cap_data``): a step's cost does not depend on the set size,
but the loop's evaluations do, and the peak memory is then measured with the capped data; the
table adds the resident size of the full data (``data_gib``, members x images, held twice: once
per member and once stacked).
"""

from __future__ import annotations

import copy
import json
import math
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import torch

from benchmarks.stand_in import cap_data, full_n_test, full_n_train
from benchmarks.timing import synchronize
from trainlens.members import DTYPES
from trainlens.training import group as ensemble_group
from trainlens.training import regularized_loop
from trainlens.training.ensemble import Hook, StepState
from trainlens.training.loop import run_loop


class _Done(Exception):
    """Raised by the timing hooks once the timed window is over (stops the job early)."""


class _Window:
    """Clock reads at step ``warmup`` and ``warmup + steps`` (after a device synchronize)."""

    def __init__(self, warmup: int, steps: int, device: torch.device) -> None:
        self.warmup, self.steps, self.device = warmup, steps, device
        self.created = time.perf_counter()
        self.start: float | None = None
        self.end: float | None = None

    def at(self, step: int) -> None:
        if step == self.warmup:
            synchronize(self.device)
            self.start = time.perf_counter()
        elif step == self.warmup + self.steps:
            synchronize(self.device)
            self.end = time.perf_counter()
            raise _Done

    def per_step(self) -> float:
        if self.start is None or self.end is None:
            return math.nan
        return (self.end - self.start) / self.steps


class _WindowHook(Hook):
    def __init__(self, window: _Window) -> None:
        self.window = window

    def after_step(self, state: StepState) -> None:
        self.window.at(state.step)


@contextmanager
def _peak(device: torch.device):
    """Yields a dict whose ``bytes`` is the device's peak allocation inside the block (None on
    the CPU, where torch keeps no such count)."""
    found: dict[str, int | None] = {"bytes": None}
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    try:
        yield found
    finally:
        if device.type == "cuda":
            synchronize(device)
            found["bytes"] = torch.cuda.max_memory_allocated(device)


def _data_bytes(config: dict[str, Any], dtype: str) -> int:
    """Bytes of every member's full image data as floats of ``dtype``, held twice (per member
    and stacked for the ensemble); 0 for non-image sets (small)."""
    from benchmarks.stand_in import RAW_SHAPES

    size = torch.tensor([], dtype=DTYPES[dtype]).element_size()
    total = 0
    for member in config["members"]:
        data = member["data"]
        if data["name"] in RAW_SHAPES:
            pixels = math.prod(RAW_SHAPES[data["name"]][2])
            total += (full_n_train(data) + full_n_test(data)) * pixels * size
    return 2 * total


def time_ensemble(config: dict[str, Any], data_root: Path, device: torch.device, warmup: int,
                  steps: int, data_cap: int, compile: bool) -> dict[str, Any]:
    """The loukas2021 engine: one window of ``steps`` steps after ``warmup`` (compile inside)."""
    train = config["train"]
    n_train = full_n_train(config["members"][0]["data"]) or config["members"][0]["data"]["n_train"]
    per_epoch = n_train // train["batch_size"] if train.get("drop_last") else \
        -(-n_train // train["batch_size"])
    total = train["epochs"] * per_epoch
    timed = cap_data(config, data_cap, train["batch_size"])
    # no checkpoints: log-spaced, they crowd the first steps, where the window sits (about 20
    # saves in a job of 10^5 steps or more weigh nothing in its total)
    timed["train"] = {**train, "compile": bool(train.get("compile")) and compile,
                      "checkpoints": 0}
    window = _Window(warmup, steps, device)
    original = ensemble_group.train_ensemble

    def with_window(models, splits, config_, order_rngs, hooks=(), **kwargs):
        return original(models, splits, config_, order_rngs, [*hooks, _WindowHook(window)],
                        **kwargs)

    with tempfile.TemporaryDirectory() as tmp, _peak(device) as peak, \
            mock.patch.object(ensemble_group, "train_ensemble", with_window):
        work = Path(tmp)
        (work / "config.json").write_text(json.dumps(timed))
        try:
            ensemble_group.train_group(work / "config.json", data_root, work / "runs.parquet",
                                       work / "metrics.parquet", work / "checkpoints",
                                       device=str(device))
        except _Done:
            pass
    return {"total_steps": total, "per_step_s": window.per_step(),
            "setup_s": (window.start or time.perf_counter()) - window.created,
            "peak_bytes": peak["bytes"], "compiled": timed["train"]["compile"],
            "data_bytes": _data_bytes(config, train.get("dtype", "float64")),
            "parts": 1}


def _with_window(window: _Window):
    """The loop with a hook that times its steps (every engine's loop is ``run_loop``)."""

    def run(step, hooks=(), *args, **kwargs):
        return run_loop(step, [*hooks, _WindowHook(window)], *args, **kwargs)

    return run


SMALL_LOG_SUBSET = 128  # the retry's GC log subset after the job's own ran out of memory


def time_regularized(config: dict[str, Any], data_root: Path, device: torch.device,
                     warmup: int, steps: int, data_cap: int, compile: bool) -> dict[str, Any]:
    """The dherin2022/fort2019 engine. The loop logs at step 0 (dherin2022: exact GC on
    ``log_subset`` training images of every member at once); where that runs out of device
    memory, the job itself would too: the group is timed again with a smaller subset, and the
    row says so."""
    try:
        return _time_regularized(config, data_root, device, warmup, steps, data_cap)
    except torch.OutOfMemoryError as error:
        first_line = str(error).splitlines()[0][:120]
    smaller = copy.deepcopy(config)
    for member in smaller["members"]:
        member["train"]["log_subset"] = SMALL_LOG_SUBSET
    row = _time_regularized(smaller, data_root, device, warmup, steps, data_cap)
    row["note"] = (f"the job's step-0 log ran out of memory ({first_line}); timed with "
                   f"log_subset {SMALL_LOG_SUBSET}, peak of that run")
    return row


def _time_regularized(config: dict[str, Any], data_root: Path, device: torch.device,
                      warmup: int, steps: int, data_cap: int) -> dict[str, Any]:
    """Every sub-ensemble timed over one window (see ``time_regularized``)."""
    from trainlens.training import regularized_group as rg

    batch = max(m["train"].get("batch_size", 32) for m in config["members"])
    timed = cap_data(config, data_cap, batch)
    for member in timed["members"]:  # checkpoint epochs of the capped set fall in the window
        member["train"]["checkpoint_epochs"] = []
    created = time.perf_counter()
    total, seconds, setup, first = 0, 0.0, 0.0, True
    with tempfile.TemporaryDirectory() as tmp, _peak(device) as peak:
        members = rg.build_members(timed, data_root, device)
        trains = [rg.member_blocks(timed, m)[2] for m in timed["members"]]
        for number, part in enumerate(rg.sub_ensembles(timed)):
            part_steps = trains[part[0]].steps
            total += part_steps
            if part_steps == 0:
                continue  # an init-only group (dherin2022 E1): its probes run at measure time
            start_at = min(warmup, part_steps - 1)
            window = _Window(start_at, max(1, min(steps, part_steps - start_at)), device)

            with mock.patch.object(regularized_loop, "run_loop", _with_window(window)):
                try:
                    rg._train_part(timed, [members[i] for i in part], [trains[i] for i in part],
                                   f"part {number}", Path(tmp), number)
                except _Done:
                    pass
            if first:
                setup, first = (window.start or time.perf_counter()) - created, False
            seconds += window.per_step() * part_steps
    dtype = config["members"][0]["train"].get("dtype", "float32")
    return {"total_steps": total, "per_step_s": seconds / total if total else 0.0,
            "setup_s": setup, "peak_bytes": peak["bytes"], "compiled": False,
            "data_bytes": _data_bytes(config, dtype), "parts": len(rg.sub_ensembles(timed)),
            "total_s": seconds}


def time_two_layer(config: dict[str, Any], data_root: Path, device: torch.device,
                   warmup: int, steps: int, data_cap: int, compile: bool) -> dict[str, Any]:
    """The nakazato2024 closed-form engine (always the CPU): per activation, the difference of
    a run of ``warmup`` and of ``warmup + steps`` steps."""
    from trainlens.training import two_layer_group as tg
    from trainlens.training.two_layer_trainer import TwoTimeConfig, train_sub_ensemble

    members = config["members"]
    train = tg._shared(config, [tg.member_blocks(config, m)[2] for m in members])
    two_time = tg._two_time(config)
    full = train.steps if not two_time else max(two_time.waiting_times) + two_time.tau_max
    by_activation: dict[str, list[dict[str, Any]]] = {}
    for member in members:
        by_activation.setdefault(member["model"]["activation"], []).append(member)
    created = time.perf_counter()
    seconds = 0.0
    for part in by_activation.values():
        clocks = []
        for length in (warmup, warmup + steps):
            sub = tg._sub_ensemble(config, part, data_root)
            # the kicked copies of E3 train alongside their runs: waiting times past the
            # window keep them in the ensemble without kicking inside it
            copies = None if two_time is None else TwoTimeConfig(
                waiting_times=tuple(length + 1 + i for i in range(len(two_time.waiting_times))),
                tau_max=1, tau_points=2)
            begin = time.perf_counter()
            train_sub_ensemble(sub, length, [], copies, config["group_id"])
            clocks.append(time.perf_counter() - begin)
        seconds += max(clocks[1] - clocks[0], 0.0) / steps * full
    n_parts = len(by_activation)
    return {"total_steps": full * n_parts, "per_step_s": seconds / (full * n_parts),
            "setup_s": time.perf_counter() - created, "peak_bytes": None, "compiled": False,
            "data_bytes": 0, "parts": n_parts, "total_s": seconds, "cpu_only": True}


ENGINES = {"ensemble": time_ensemble, "regularized": time_regularized,
           "two_layer": time_two_layer}


def time_group(config: dict[str, Any], data_root: Path, device: torch.device, warmup: int,
               steps: int, data_cap: int, compile: bool) -> dict[str, Any]:
    """One group's timing row (without its identity columns)."""
    engine = config.get("trainer", "ensemble")
    row = ENGINES[engine](copy.deepcopy(config), data_root, device, warmup, steps, data_cap,
                          compile)
    row.setdefault("total_s", row["per_step_s"] * row["total_steps"])
    row.setdefault("cpu_only", False)
    return {"engine": engine, **row}
