"""Collects metric values of all ensemble members and emits the long metrics table.

Hooks log one (M,) tensor per (metric, split, step); nothing is converted to Python numbers
during training (no per-step host synchronisation). ``frame`` builds the tidy table of
docs/design.md: run_id, step, epoch, split, metric, value.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd
import torch


class MetricLog:
    """Per-member metric series, keyed by (metric, split)."""

    def __init__(self, steps_per_epoch: int) -> None:
        self.steps_per_epoch = steps_per_epoch
        self._steps: dict[tuple[str, str], list[int]] = defaultdict(list)
        self._values: dict[tuple[str, str], list[torch.Tensor]] = defaultdict(list)

    def log(self, metric: str, split: str, step: int, values: torch.Tensor) -> None:
        """Record ``values`` (one per member) of ``metric`` on ``split`` at ``step``."""
        self._steps[(metric, split)].append(step)
        self._values[(metric, split)].append(values.detach().to("cpu", torch.float64))

    def state_dict(self) -> dict:
        keys = list(self._steps)
        return {"keys": [list(k) for k in keys], "steps": [self._steps[k] for k in keys],
                "values": [torch.stack(self._values[k]) for k in keys]}

    def load_state_dict(self, state: dict) -> None:
        self._steps.clear()
        self._values.clear()
        for key, steps, values in zip(state["keys"], state["steps"], state["values"]):
            self._steps[tuple(key)] = list(steps)
            self._values[tuple(key)] = list(values.unbind(0))

    def frame(self, run_ids: list[str],
              valid_until: list[int | None] | None = None) -> pd.DataFrame:
        """The long table. Rows of a member after ``valid_until[m]`` (its divergence step) are
        dropped: a diverged run's later values are NaN noise, not measurements."""
        parts = []
        for (metric, split), steps in self._steps.items():
            values = torch.stack(self._values[(metric, split)]).numpy()  # (T, M)
            step = np.repeat(np.asarray(steps), len(run_ids))
            parts.append(pd.DataFrame({
                "run_id": np.tile(np.asarray(run_ids, dtype=object), len(steps)),
                "step": step.astype(np.int64),
                "epoch": step / self.steps_per_epoch,
                "split": split,
                "metric": metric,
                "value": values.reshape(-1),
            }))
        table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        if valid_until is not None and len(table):
            limit = dict(zip(run_ids, [np.inf if s is None else s for s in valid_until]))
            table = table[table["step"] < table["run_id"].map(limit)]
        return table.reset_index(drop=True)
