"""When to save checkpoints: a log-spaced schedule over optimizer steps (design principle 3).

Probes run on checkpoints, so early training (where most of the change happens) needs dense
checkpoints and late training sparse ones; a log-spaced set of steps gives both at a fixed cost.
"""

from __future__ import annotations

import numpy as np


def log_spaced_steps(total_steps: int, count: int) -> list[int]:
    """About ``count`` distinct steps, log-spaced over [1, total_steps], plus 0 and total_steps.

    Rounding merges duplicates at the start, so the result may hold fewer than ``count`` steps.
    """
    if total_steps < 0 or count < 0:
        raise ValueError(f"total_steps and count must be >= 0, got {total_steps}, {count}")
    if total_steps == 0:
        return [0]
    inner = np.unique(np.round(np.geomspace(1, total_steps, num=max(count, 2))).astype(int))
    return sorted({0, total_steps, *inner.tolist()})
