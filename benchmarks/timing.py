"""Timing shared by the benchmark cases."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import torch

T = TypeVar("T")
CPU = torch.device("cpu")  # the default device of every case


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued kernels: CUDA calls return before their work is done, so a
    clock read without this times the launch, not the computation."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_of(fn: Callable[[], T], repeats: int,
            device: torch.device = CPU) -> tuple[float, T]:
    """The minimum wall time of ``repeats`` calls of ``fn`` after one warm-up call, and the
    value of the last call (the minimum is the least noisy estimate on a shared machine)."""
    fn()  # warm-up
    best, value = float("inf"), None
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        value = fn()
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best, value


def threads_or_device(device: torch.device) -> str:
    """What a row ran on, for its note: the CPU thread count, or the GPU's name."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"threads {torch.get_num_threads()}"
