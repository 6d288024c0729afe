"""Timing shared by the benchmark cases."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def best_of(fn: Callable[[], T], repeats: int) -> tuple[float, T]:
    """The minimum wall time of ``repeats`` calls of ``fn`` after one warm-up call, and the
    value of the last call (the minimum is the least noisy estimate on a shared machine)."""
    fn()  # warm-up
    best, value = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value
