"""The ensemble trainer: M members trained together as one ``torch.func`` ensemble, with hooks,
by one of ``training.steps:STEPS`` (plain SGD, ``train.step: sgd``) in the one loop.

Runs that differ only by seed (design principle 6) stack their parameters along a leading member
axis and take their SGD steps together (eagerly one forward of all members and one backward
pass, ``_autograd_sgd_step``; compiled, ``vmap(grad)`` fused by ``torch.compile``): each member
keeps its own data, its own shuffle order and its own batch of size B (loukas2021 trains at
B = 1), so the result equals training every member alone (tests/unit/training/test_ensemble.py
checks this to 1e-10 in float64), at a fraction of the Python overhead.

The loop is plain SGD without momentum, as every loukas2021 experiment uses, with an optional
per-epoch exponential lr decay (``ExponentialLR`` stepped once per epoch, E1b). The atlas study
(issue 29) adds two per-member knobs, both off by default, and then skipped entirely so that
existing runs train bitwise as before: L2 weight decay on the weights (``train.weight_decay``,
biases not decayed) and label-noise SGD (``train.label_noise``, fresh noisy labels every step).
Hooks see the whole ensemble at once and accumulate what they need in tensors, so that nothing in
the step synchronises or loops over members in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from trainlens.experiments.train_config import TrainConfig
from trainlens.losses import LOSSES, Loss
from trainlens.splits import Split
from trainlens.training.batches import Batches
from trainlens.training.job import JobState
from trainlens.training.loop import Hook, run_loop
from trainlens.training.stacking import (  # noqa: F401  (re-exported for the engines)
    _gather,
    ensemble_forward,
    stack_members,
    stack_splits,
)
from trainlens.training.steps import STEPS
from trainlens.training.steps.sgd import (  # noqa: F401  (re-exported: tests use the steps)
    EvalState,
    LabelNoise,
    SGDStep,
    StepState,
    _autograd_sgd_step,
    _functional_sgd_step,
    decays,
    make_sgd_step,
    summed_member_gradients,
)

__all__ = ["EnsembleResult", "EvalState", "Hook", "StepState", "train_ensemble"]


@dataclass
class EnsembleResult:
    params: dict[str, torch.Tensor]
    steps: int
    diverged_step: list[int | None] = field(default_factory=list)  # first non-finite loss
    wall_time_s: float = 0.0


def _per_member(values: Sequence[float] | None, default: float, n_members: int,
                key: str) -> list[float]:
    """Per-member values of ``train.<key>`` (``default`` for every member when None), checked."""
    values = list(values) if values is not None else [default] * n_members
    if len(values) != n_members or not all(v >= 0 for v in values):
        raise ValueError(f"train.{key} needs {n_members} per-member values >= 0, got {values}")
    return values


def _label_classes(loss: Loss, forward, params: dict[str, torch.Tensor],
                   x_train: torch.Tensor) -> int | None:
    """K for label-noise SGD: 2 for a scalar-output classifier (BCE on 0/1 labels), the number
    of outputs otherwise; None for regression (Gaussian target noise instead)."""
    if not loss.classifier:
        return None
    with torch.no_grad():
        z = forward(params, x_train[:, :1])
    return 2 if z.dim() == 2 else int(z.shape[-1])


def train_ensemble(models: Sequence[nn.Module], splits: Sequence[Split], config: TrainConfig,
                   order_rngs: Sequence[np.random.Generator], hooks: Sequence[Hook] = (),
                   lrs: Sequence[float] | None = None,
                   job: JobState | None = None,
                   weight_decays: Sequence[float] | None = None,
                   label_noises: Sequence[float] | None = None,
                   label_noise_keys: Sequence[int | None] | None = None,
                   keep: Sequence = (), label: str = "") -> EnsembleResult:
    """Train ``models`` (one per member) with per-member data, shuffle streams and lrs.

    Each epoch every member draws a fresh permutation of its training set from its own
    ``order_rngs[m]`` and walks it in batches of ``config.batch_size`` (the last one shorter,
    or dropped with ``config.drop_last``, as a DataLoader does). ``lrs`` overrides ``config.lr``
    per member (lr is vmappable); ``weight_decays`` and ``label_noises`` override
    ``config.weight_decay`` and ``config.label_noise`` the same way (``make_sgd_step``,
    ``noisy_targets``). Label noise draws from each member's ``label_noise_keys[m]``
    (``corruption.label_noise_key`` of its run's "label_noise" stream) at the 1-based step being
    taken, so it depends only on (seed, step, position) and resumes exactly; only the training
    step sees it (hooks' ``StepState.y`` is the noisy batch, the test set stays clean). When
    every member's value is 0 the new code is skipped. Models and splits must already have the
    training dtype and device. With a ``job``, the loop starts from its saved state if there
    is one and saves its state (with ``keep``'s) at epoch boundaries
    (:func:`trainlens.training.loop.run_loop`).
    """
    loss = LOSSES[config.loss]
    base, params = stack_members(models)
    data = stack_splits(splits)
    x_train = data[0]
    n_members, n_train = x_train.shape[:2]
    lr0 = torch.tensor(lrs if lrs is not None else [config.lr] * n_members,
                       dtype=x_train.dtype, device=x_train.device)
    decay = _per_member(weight_decays, config.weight_decay, n_members, "weight_decay")
    noise = _per_member(label_noises, config.label_noise, n_members, "label_noise")
    decay_tensor = (torch.tensor(decay, dtype=x_train.dtype, device=x_train.device)
                    if any(v > 0 for v in decay) else None)  # None: the plain step, bitwise
    label_noise = None
    if any(v > 0 for v in noise):
        keys = list(label_noise_keys) if label_noise_keys is not None else [None] * n_members
        n_classes = _label_classes(loss, ensemble_forward(base), params, x_train)
        label_noise = LabelNoise(noise, keys, n_classes)
    per_epoch = config.steps_per_epoch(n_train)
    batches = Batches(n_train, config.batch_size, order_rngs, x_train.device, per_epoch)
    step = STEPS[config.step](base, params, data, batches, lr0, config.lr_decay_per_epoch,
                   per_epoch * config.epochs, loss,
                   make_sgd_step(base, loss, config.compile, decay_tensor), label_noise)
    result = run_loop(step, hooks, job, keep=keep, label=label)
    return EnsembleResult(step.params(), result.steps, result.diverged_step, result.wall_time_s)
