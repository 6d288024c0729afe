"""Resumable training state: save at epoch boundaries, resume bitwise-identically on the CPU.

A long job killed at any point (SIGKILL included) restarts from the last saved state and ends
with the same tables as an uninterrupted run: the state holds the parameters, every RNG stream
(the members' shuffle orders), the divergence record, each hook's accumulators and the metric
log, and it is written atomically (temporary file, then rename), so a kill during the write
leaves the previous state intact. States are saved at epoch boundaries only, where the per-epoch
accumulators are empty, at most once per ``interval_s`` seconds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trainlens.io import atomic_torch_save, load_checkpoint


def rng_state(rng: np.random.Generator) -> str:
    """A NumPy generator's full state as JSON (plain text: loads with weights_only=True)."""
    return json.dumps(rng.bit_generator.state)


def set_rng_state(rng: np.random.Generator, state: str) -> None:
    rng.bit_generator.state = json.loads(state)


@dataclass
class Resumer:
    """Where the loop keeps its resumable state and how often it saves it.

    ``extra_state``/``load_extra`` let the caller add what the loop does not own (the metric
    log shared by the hooks).
    """

    path: Path
    interval_s: float = 60.0
    extra_state: Callable[[], dict[str, Any]] = field(default=lambda: {})
    load_extra: Callable[[dict[str, Any]], None] = field(default=lambda state: None)
    _last_save: float = field(default_factory=time.monotonic)

    def load(self) -> dict[str, Any] | None:
        """The saved state, or None when there is none (a fresh start)."""
        if not self.path.exists():
            return None
        state = load_checkpoint(self.path)
        self.load_extra(state["extra"])
        return state

    def due(self) -> bool:
        return time.monotonic() - self._last_save >= self.interval_s

    def save(self, loop_state: dict[str, Any], hooks: Sequence[Any]) -> None:
        state = {**loop_state, "hooks": [hook.state_dict() for hook in hooks],
                 "extra": self.extra_state()}
        atomic_torch_save(state, self.path)
        self._last_save = time.monotonic()
