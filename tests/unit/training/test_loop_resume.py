"""The one loop resumes every step bitwise: a job stopped right after its k-th saved state (as a
SIGKILL would leave it) and restarted ends exactly where the uninterrupted job ends (CPU).
tests/workflow/test_resume_kill.py kills real ``trainlens train`` processes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from trainlens.experiments.train_config import TrainConfig
from trainlens.models.two_layer import TwoLayerConfig, init_params
from trainlens.training.job import JobState
from trainlens.training.regularized_group import stack_state
from trainlens.training.regularized_loop import MemberStreams, train_regularized
from trainlens.training.two_layer_trainer import (
    MinibatchStream,
    SubEnsemble,
    TwoTimeConfig,
    train_sub_ensemble,
)

F64 = torch.float64


class _Killed(Exception):
    pass


class _KilledAfter(JobState):
    """A job state that stops the job right after its ``saves``-th save."""

    def __init__(self, state_dir, saves: int) -> None:
        super().__init__(state_dir, 0.0, {"group_id": "test"})
        self.left = saves

    def save(self, part, loop_state) -> None:
        super().save(part, loop_state)
        self.left -= 1
        if self.left == 0 and loop_state is not None:
            raise _Killed


def _model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3)).double()


def _streams(seed: int) -> MemberStreams:
    gens = [torch.Generator().manual_seed(seed * 10 + i) for i in range(3)]
    return MemberStreams(np.random.default_rng(seed), *gens)


def _regularized(job):
    # member 0 reaches the target at a check and leaves the vmapped state, then member 2; all
    # with Adam state, minibatches and the penalties' random inputs
    shared = {"steps": 60, "batch_size": 4, "check_every": 3, "log_every": 7, "dtype": "float64",
              "optimizer": "adam", "target_loss": 0.3}
    configs = [TrainConfig.of("regularized", **shared, lr=0.05, input_noise=0.1),
               TrainConfig.of("regularized", **shared, lr=1e-6, spectral_penalty=0.01),
               TrainConfig.of("regularized", **shared, lr=0.02, weight_decay=0.01)]
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(12, 5, generator=g, dtype=F64), torch.randint(0, 3, (12,), generator=g)
    base, params, buffers = stack_state([_model(s) for s in (5, 6, 7)])
    stacked = [torch.stack([t] * 3) for t in (x, y, x[:4] + 0.1, y[:4])]
    result = train_regularized(base, params, buffers, *stacked, configs,
                               [_streams(s) for s in (5, 6, 7)], job=job)
    return result.params, (result.steps, result.diverged_step, result.stop_step,
                           result.log.frame(["a", "b", "c"]).to_dict("list"))


def _sub() -> SubEnsemble:
    """Three runs: GD (logistic), SGD at B = 1 (MSE), SGD at B = 5 with Langevin noise."""
    specs = [("logistic", 0, 0.3, 0.0), ("mse", 1, 0.1, 0.0), ("logistic", 5, 0.3, 1e-4)]
    config = TwoLayerConfig(input_dim=4, width=6, activation="tanh")
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 12, 4, generator=gen, dtype=F64)
    x = x / x.norm(dim=2, keepdim=True)
    params = [init_params(config, torch.Generator().manual_seed(100 + s)) for s in range(3)]
    return SubEnsemble(
        "tanh", [s[0] for s in specs], x, torch.where(x[..., 0] > 0, 1.0, -1.0).to(F64),
        {k: torch.cat([p[k] for p in params]) for k in params[0]},
        torch.tensor([s[2] for s in specs], dtype=F64),
        torch.tensor([s[3] for s in specs], dtype=F64),
        [MinibatchStream(12, s[1], torch.Generator().manual_seed(200 + i), F64)
         for i, s in enumerate(specs)],
        [torch.Generator().manual_seed(300 + i) for i in range(3)])


def _two_layer(job):
    two_time = TwoTimeConfig(waiting_times=(100, 400), tau_max=500, tau_points=10)
    result = train_sub_ensemble(_sub(), 900, [0, 300, 900], two_time, "t", job=job)
    return result.checkpoints[900], (result.first_interpolation.tolist(), result.diverged_step,
                                     result.two_time)


@pytest.mark.parametrize("train", [_regularized, _two_layer], ids=["regularized", "two_layer"])
@pytest.mark.parametrize("saves", [1, 3])
def test_a_job_stopped_after_a_save_resumes_bitwise(tmp_path, train, saves):
    straight_params, straight = train(None)
    with pytest.raises(_Killed):
        train(_KilledAfter(tmp_path / "state", saves))
    params, resumed = train(JobState(tmp_path / "state", 0.0, {"group_id": "test"}))
    assert resumed == straight
    assert params.keys() == straight_params.keys()
    for name in params:
        assert torch.equal(params[name], straight_params[name]), name
