"""The dherin2022 training run: the regularized step (:mod:`trainlens.training.steps.regularized`)
in the one loop, with its measurements (:mod:`trainlens.training.steps.regularized_eval`) and
checkpoints as hooks. See :mod:`trainlens.training.regularized` for the objective and
conventions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from trainlens.experiments.train_config import TrainConfig
from trainlens.training.job import JobState
from trainlens.training.loop import Hook, run_loop
from trainlens.training.recorder import MetricLog
from trainlens.training.steps.regularized import RegularizedStep
from trainlens.training.steps.regularized_eval import MeasureHook

Params = dict[str, torch.Tensor]


@dataclass
class MemberStreams:
    """The per-member generators of the random parts of training (docs/protocols/dherin2022.md §4
    "Random streams")."""

    order: np.random.Generator
    noise: torch.Generator  # input noise ε
    probes: torch.Generator  # Hutchinson projections
    spectral: torch.Generator  # initial power-iteration vectors
    label_noise: int | None = None  # label-noise SGD key (corruption.label_noise_key)


@dataclass
class RegularizedResult:
    params: Params
    buffers: Params
    steps: int
    diverged_step: list[int | None]
    stop_step: list[int | None]  # first step whose check found train loss < target
    wall_time_s: float
    log: MetricLog = field(repr=False, default=None)


class _CheckpointHook(Hook):
    """``checkpoint(step, params | buffers)`` at step 0, at the scheduled steps and at the end
    (where stopped members hold their matched-loss parameters)."""

    def __init__(self, checkpoint: Callable[[int, Params], None]) -> None:
        self.checkpoint = checkpoint

    def before_training(self, params: Params) -> None:
        self.checkpoint(0, params)

    def at_checkpoint(self, step: int, params: Params) -> None:
        self.checkpoint(step, params)

    def after_training(self, params: Params, step: int) -> None:
        if step > 0:
            self.checkpoint(step, params)


def train_regularized(base: nn.Module, params: Params, buffers: Params,
                      x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor,
                      y_test: torch.Tensor, configs: Sequence[TrainConfig],
                      streams: Sequence[MemberStreams], label: str = "group",
                      checkpoint: Callable[[int, Params], None] | None = None,
                      job: JobState | None = None, part: int = 0) -> RegularizedResult:
    """Train the stacked members (params/buffers (M, ...), data (M, N, ...)) for
    ``configs[0].steps`` steps; ``configs[m]`` holds member m's strengths and lr (every other
    field is shared). ``checkpoint(step, params | buffers)`` is called at step 0, at the steps
    of ``checkpoint_epochs`` and at the end. With ``job``, part ``part`` of the job resumes from
    its saved state and saves it (``run_loop``)."""
    shared = configs[0]
    n_train = x_train.shape[1]
    step = RegularizedStep(base, params, buffers, x_train, y_train, configs, streams,
                           checkpoint is not None)
    log = MetricLog(shared.steps_per_epoch(n_train))
    hooks: list[Hook] = [MeasureHook(step.evaluator, log, (x_train, y_train, x_test, y_test),
                                     set(buffers), shared.log_subset or n_train,
                                     shared.log_complexity, shared.steps > 0)]
    if checkpoint is not None:
        hooks.append(_CheckpointHook(checkpoint))
    result = run_loop(step, hooks, job, part, keep=[log], label=label)
    return RegularizedResult(dict(step.full.params), dict(step.full.buffers), result.steps,
                             result.diverged_step, result.stop_step, result.wall_time_s, log)
