"""trainlens.devices: the device rule of a job (one GPU per job on a multi-GPU machine)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from trainlens.devices import DeviceError, claim_free_gpu, parse_device, select_device

HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from trainlens.devices import claim_free_gpu
    print(claim_free_gpu(int(sys.argv[1]), Path(sys.argv[2])), flush=True)
    time.sleep(600)
""")


def hold_gpu(n_devices: int, lock_dir) -> tuple[subprocess.Popen, int]:
    """Another process that claims a GPU and keeps it; returns it and the index it claimed."""
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(n_devices), str(lock_dir)],
                               stdout=subprocess.PIPE, text=True)
    return process, int(process.stdout.readline())


@pytest.mark.parametrize(("text", "parsed"), [("cpu", ("cpu", None)), ("cuda", ("cuda", None)),
                                             ("cuda:3", ("cuda", 3))])
def test_device_strings_parse(text, parsed):
    assert parse_device(text) == parsed


@pytest.mark.parametrize("text", ["gpu", "cuda:", "cuda:x", "CUDA", "mps", "cuda:-1", ""])
def test_a_bad_device_string_is_rejected_naming_the_forms(text):
    with pytest.raises(DeviceError, match="'cpu', 'cuda' or 'cuda:N'"):
        parse_device(text)


def test_cpu_is_the_cpu():
    assert select_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("text", ["cuda", "cuda:0"])
def test_cuda_without_a_visible_gpu_says_so(text, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # as on a CPU-only machine
    with pytest.raises(DeviceError, match="run with device=cpu|0 CUDA devices are visible"):
        select_device(text, lock_dir=tmp_path)


def test_jobs_claim_distinct_gpus_and_a_killed_job_frees_its_own(tmp_path):
    first, first_index = hold_gpu(3, tmp_path)
    second, second_index = hold_gpu(3, tmp_path)
    try:
        assert (first_index, second_index) == (0, 1)
        assert claim_free_gpu(3, tmp_path, wait_s=0) == 2  # this process holds 2 from now on
        with pytest.raises(DeviceError, match="all 3 GPUs are held"):
            claim_free_gpu(3, tmp_path, wait_s=0.2, poll_s=0.05)
        first.send_signal(signal.SIGKILL)
        first.wait()
        time.sleep(0.1)
        assert claim_free_gpu(3, tmp_path, wait_s=5, poll_s=0.05) == 0  # the kernel freed it
    finally:
        for process in (first, second):
            process.kill()
            process.wait()


def test_no_gpu_to_claim_is_an_error(tmp_path):
    with pytest.raises(DeviceError, match="no CUDA device is visible"):
        claim_free_gpu(0, tmp_path)
