"""Which torch device a training or probe job runs on, and how that device is set up.

Snakemake does not set ``CUDA_VISIBLE_DEVICES`` per job, so on a machine with several GPUs
every job would land on GPU 0. The rule, for the ``device`` value of experiments/config.yaml:

- ``cpu``: the CPU.
- ``cuda:N``: visible GPU N, for every job (pinning by hand; on a one-GPU machine ``cuda:0``).
- ``cuda``: the job claims the first visible GPU that no other trainlens job on this machine
  holds, by an exclusive lock on ``<lock_dir>/cuda<N>.lock`` kept for the life of the process
  (the kernel drops it when the process ends, a killed one included). Run the workflow with
  ``--resources gpu=<number of GPUs>``: the GPU rules ask for ``gpu=1``, so Snakemake never
  starts more GPU jobs than there are GPUs, and each gets its own. Under SLURM the scheduler
  sets ``CUDA_VISIBLE_DEVICES`` per job, so the one visible GPU is the job's.

On every CUDA device TF32 is switched off (matmuls and cuDNN convolutions in full float32): the
probes are exact float32/float64 quantities, and benchmark timings are for that precision.
"""

from __future__ import annotations

import fcntl
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

import torch

DEFAULT_LOCK_DIR = Path(tempfile.gettempdir()) / f"trainlens-gpu-locks-{os.getuid()}"
_HELD: list[IO[str]] = []  # lock files held until the process exits


class DeviceError(ValueError):
    """A device that cannot be had: named wrongly, not visible, or every GPU held."""


def claim_free_gpu(n_devices: int, lock_dir: Path = DEFAULT_LOCK_DIR, wait_s: float = 86400.0,
                   poll_s: float = 5.0) -> int:
    """The index of the first of ``n_devices`` GPUs whose lock no other process holds, locked
    now for the rest of this process. Waits (one line to stderr a minute) while every GPU is
    taken, and raises after ``wait_s`` seconds."""
    if n_devices < 1:
        raise DeviceError("device 'cuda' asked for, but no CUDA device is visible "
                           "(torch.cuda.device_count() is 0): run with device=cpu")
    lock_dir.mkdir(parents=True, exist_ok=True)
    start = last_message = time.monotonic()
    while True:
        for index in range(n_devices):
            handle = open(lock_dir / f"cuda{index}.lock", "a+")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            _HELD.append(handle)
            return index
        now = time.monotonic()
        if now - start >= wait_s:
            raise DeviceError(f"all {n_devices} GPUs are held by other trainlens jobs (locks in "
                               f"{lock_dir}) after {wait_s:.0f} s; run with --resources "
                               f"gpu={n_devices} so Snakemake starts at most one job per GPU")
        if now - last_message >= 60:
            print(f"waiting for a free GPU: all {n_devices} are held (locks in {lock_dir})",
                  file=sys.stderr, flush=True)
            last_message = now
        time.sleep(poll_s)


def parse_device(text: str) -> tuple[str, int | None]:
    """('cpu', None), ('cuda', None) or ('cuda', N) from a device string; anything else is an
    error that names the allowed forms."""
    if text == "cpu" or text == "cuda":
        return text, None
    kind, _, index = text.partition(":")
    if kind == "cuda" and index.isdigit():
        return "cuda", int(index)
    raise DeviceError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {text!r}")


def select_device(text: str, lock_dir: Path = DEFAULT_LOCK_DIR) -> torch.device:
    """The torch device of a job by the rule of this module's docstring, set up for measuring
    (TF32 off, the device made current)."""
    kind, index = parse_device(text)
    if kind == "cpu":
        return torch.device("cpu")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if index is None:
        index = claim_free_gpu(count, lock_dir)
    elif index >= count:
        raise DeviceError(f"device {text!r} asked for, but {count} CUDA devices are visible "
                           f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r})")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.cuda.set_device(index)
    return torch.device("cuda", index)
