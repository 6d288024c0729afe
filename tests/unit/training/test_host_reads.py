"""The GPU path: a training step reads nothing back to the host (each read waits for the device).

Counted on the CPU through a TorchFunctionMode: every tensor operation that returns a host value
(``item``, ``tolist``, ``bool``/``int``/``float`` of a tensor, ``numpy``, ``cpu``) or whose output
size depends on data (``nonzero``). The count may grow with logs, checks and epochs, never with
steps.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from trainlens.experiments.train_config import TrainConfig
from trainlens.training.ensemble import train_ensemble
from trainlens.training.group import train_config
from trainlens.training.hooks import LossHook
from trainlens.training.recorder import MetricLog
from trainlens.training.regularized_group import stack_state
from trainlens.training.regularized_loop import MemberStreams, train_regularized

HOST_READS = {"item", "tolist", "__bool__", "__int__", "__float__", "__index__", "numpy", "cpu",
              "nonzero"}


class CountHostReads(TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in HOST_READS:
            self.count += 1
        return func(*args, **(kwargs or {}))


def _regularized_reads(steps: int, **train) -> int:
    torch.manual_seed(0)
    models = [nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3)) for _ in range(3)]
    base, params, buffers = stack_state(models)
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(3, 40, 5, generator=g), torch.randint(0, 3, (3, 40), generator=g)
    configs = [TrainConfig.of("regularized", optimizer="adam", lr=lr, steps=steps, batch_size=8,
                              log_every=steps, check_every=10, **train)
               for lr in (1e-3, 3e-3, 1e-2)]
    streams = [MemberStreams(np.random.default_rng(s), *[torch.Generator().manual_seed(s)] * 3)
               for s in range(3)]
    with CountHostReads() as reads:
        train_regularized(base, params, buffers, x, y, x[:, :10], y[:, :10], configs, streams)
    return reads.count


def test_regularized_steps_read_nothing_back_between_checks():
    # 40 more steps hold 4 more checks (check_every 10): one host read each (did any member
    # diverge?), none in the 36 steps between them
    assert _regularized_reads(80) - _regularized_reads(40) <= 4


def test_a_target_loss_check_reads_which_members_reached_it():
    # each of the 4 more checks also finds the members below the target: 3 reads a check
    assert _regularized_reads(80, target_loss=1e-9) - _regularized_reads(40, target_loss=1e-9) <= 12


def test_ensemble_steps_read_nothing_back(e1a_smoke_config):
    from pathlib import Path

    from trainlens.training.group import build_member

    def reads(epochs: int) -> int:
        members = [build_member(e1a_smoke_config, e1a_smoke_config["members"][i], Path("data"),
                                torch.device("cpu")) for i in (0, 4)]
        train = TrainConfig(**{**vars(train_config(e1a_smoke_config)), "epochs": epochs})
        log = MetricLog(members[0].split.x_train.shape[0])
        with CountHostReads() as counter:
            train_ensemble([copy.deepcopy(m.model) for m in members], [m.split for m in members],
                           train, [m.order_rng for m in members], [LossHook(log)],
                           lrs=[m.lr for m in members])
        return counter.count

    # two more epochs are 2 x 30 more steps; the per-epoch log may read, the steps may not
    assert reads(4) - reads(2) <= 2 * 2
