"""Per-member minibatches that a resumed job replays exactly."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch


class Batches:
    """Per-member minibatch indices (M, B): each member walks a fresh permutation of its N
    points, drawn from its own ``orders[m]``, every epoch of ``per_epoch`` batches (default
    ⌈N/B⌉: the last one shorter; ⌊N/B⌋ drops it, as a DataLoader with ``drop_last``); None for
    the full batch (``batch_size`` 0). ``state_dict`` holds the streams' states at the start of
    the current epoch and the position in it, so a resumed job draws the same batches."""

    def __init__(self, n: int, batch_size: int, orders: Sequence[np.random.Generator],
                 device: torch.device | str, per_epoch: int | None = None) -> None:
        self.n, self.batch_size, self.orders, self.device = n, batch_size, orders, device
        self.per_epoch = per_epoch if per_epoch is not None else -(-n // max(batch_size, 1))
        self.position = 0  # batches of the current epoch already drawn
        self._order: torch.Tensor | None = None
        self._epoch_start: list[dict[str, Any]] = []

    def _shuffle(self) -> None:
        self._epoch_start = [rng.bit_generator.state for rng in self.orders]
        self._order = torch.from_numpy(np.stack([rng.permutation(self.n)
                                                 for rng in self.orders])).to(self.device)
        self.position = 0

    def next(self) -> torch.Tensor | None:
        if self.batch_size == 0:
            return None
        if self._order is None or self.position >= self.per_epoch:
            self._shuffle()
        start = self.position * self.batch_size
        self.position += 1
        return self._order[:, start:start + self.batch_size]

    def state_dict(self) -> dict[str, Any]:
        return {"epoch_start": [json.dumps(s) for s in self._epoch_start],
                "position": self.position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not state["epoch_start"]:  # no batch drawn yet
            return
        for rng, saved in zip(self.orders, state["epoch_start"]):
            rng.bit_generator.state = json.loads(saved)
        self._shuffle()
        self.position = state["position"]
