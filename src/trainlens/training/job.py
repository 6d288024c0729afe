"""What every training job shares around its loop, whatever its step: the resumable state in
``state_dir`` (fingerprinted by the group's config), the work folder of its checkpoints, and the
hand-over of the checkpoints to the output folder once every output is in place.

A job trains its members as one or more parts (sub-ensembles, trained one after the other).
Its state file holds the results of the finished parts and the loop state of the part in
progress, so that a job killed at any point (SIGKILL included) resumes from its last save and
ends with the same tables, bitwise, as an uninterrupted run (tests/workflow/test_resume_kill.py).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from trainlens.io import atomic_torch_save, load_checkpoint


def open_state_dir(state_dir: Path, config: dict[str, Any]) -> tuple[Path, str]:
    """``state_dir`` made ready, and the config's fingerprint; a state saved for another
    config is discarded (the group's config changed since the job was killed)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    fingerprint = json.dumps(config, sort_keys=True)
    path = state_dir / "state.pt"
    if path.exists() and load_checkpoint(path)["extra"].get("config") != fingerprint:
        print(f"[{config['group_id']}] discarding {path}: saved for another config",
              file=sys.stderr)
        shutil.rmtree(state_dir)
        state_dir.mkdir(parents=True)
    return path, fingerprint


class JobState:
    """The resumable state of a job trained in parts (``state_dir/state.pt``).

    ``done`` holds the results of the finished parts (tensors, numbers, strings, lists and dicts
    of them); ``loop_state(part)`` the saved loop state of ``part`` if the job was killed while
    training it. Without a ``state_dir`` nothing is saved and nothing resumes.
    """

    def __init__(self, state_dir: str | Path | None, interval_s: float,
                 config: dict[str, Any]) -> None:
        self.interval_s, self.label = interval_s, config["group_id"]
        self.done: list[Any] = []
        self._loop: dict[str, Any] | None = None
        self._part = -1
        self._last_save = time.monotonic()
        self.path: Path | None = None
        if state_dir is None:
            return
        self.path, self._fingerprint = open_state_dir(Path(state_dir), config)
        if self.path.exists():
            saved = load_checkpoint(self.path)
            self.done, self._part, self._loop = saved["done"], saved["part"], saved["loop"]
            print(f"[{self.label}] resuming from {self.path}: {len(self.done)} parts done",
                  file=sys.stderr, flush=True)

    @property
    def enabled(self) -> bool:
        return self.path is not None

    def loop_state(self, part: int) -> dict[str, Any] | None:
        """The saved loop state of ``part`` (None: the part starts from its beginning)."""
        return self._loop if part == self._part else None

    def due(self) -> bool:
        """Whether a loop should save now (at most once per ``interval_s``)."""
        return self.enabled and time.monotonic() - self._last_save >= self.interval_s

    def save(self, part: int, loop_state: dict[str, Any] | None) -> None:
        """Save the finished parts and ``part``'s loop state, atomically."""
        if not self.enabled:
            return
        atomic_torch_save({"done": self.done, "part": part, "loop": loop_state,
                           "extra": {"config": self._fingerprint}}, self.path)
        self._last_save = time.monotonic()

    def finish_part(self, result: Any) -> None:
        """Record a finished part's result (saved at once: a resumed job skips the part)."""
        self.done.append(result)
        self._part, self._loop = -1, None
        self.save(len(self.done), None)


def to_device(value: Any, device: Any) -> Any:
    """Tensors inside nested dicts, lists and tuples moved to ``device``; other values as is."""
    import torch

    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, dict):
        return {k: to_device(v, device) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(to_device(v, device) for v in value)
    return value


def save_checkpoint(directory: Path, step: int, epoch: float, run_ids: list[str],
                    params: dict[str, Any], part: int | None = None) -> None:
    """The stacked parameters (member axis first) of ``run_ids`` at ``step``, as
    ``step_<step>[_<part>].pt`` (``part``: the sub-ensemble, for jobs trained in parts); the one
    checkpoint format the measure stage reads."""
    name = f"step_{step:09d}" + (f"_{part}" if part is not None else "") + ".pt"
    atomic_torch_save({"step": step, "epoch": epoch, "run_ids": list(run_ids),
                       "params": {k: v.detach().cpu().clone() for k, v in params.items()}},
                      Path(directory) / name)


def work_checkpoints(state_dir: str | Path | None, checkpoints_dir: str | Path) -> Path:
    """Where the job writes checkpoints while it trains: inside ``state_dir`` when it has one
    (a resumed job finds the earlier ones there), else the output folder itself."""
    return Path(state_dir) / "checkpoints" if state_dir else Path(checkpoints_dir)


def publish_directory(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` so that ``target`` appears complete or not at all."""
    staging = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)


def finish_job(state_dir: str | Path | None, checkpoints_dir: str | Path) -> None:
    """Hand the work checkpoints over to ``checkpoints_dir`` and remove the state: the last act
    of a job (until every output is in place, it can resume)."""
    if not state_dir:
        return
    work = work_checkpoints(state_dir, checkpoints_dir)
    work.mkdir(parents=True, exist_ok=True)
    publish_directory(work, Path(checkpoints_dir))
    shutil.rmtree(state_dir)
