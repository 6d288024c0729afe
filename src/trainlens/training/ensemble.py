"""The training loop: M members trained together as one ``torch.func`` ensemble, with hooks.

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

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from trainlens.data.corruption import noisy_targets
from trainlens.losses import LOSSES, Loss
from trainlens.members import DTYPES
from trainlens.splits import Split
from trainlens.training.resume import Resumer, rng_state, set_rng_state
from trainlens.training.sgd_steps import (  # noqa: F401  (re-exported: tests use the steps)
    _autograd_sgd_step,
    _functional_sgd_step,
    decays,
    make_sgd_step,
    summed_member_gradients,
)
from trainlens.training.stacking import (  # noqa: F401  (re-exported for the engines)
    _gather,
    ensemble_forward,
    stack_members,
    stack_splits,
)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings shared by every member of an ensemble (loukas2021 §3)."""

    loss: str = "mse_half"
    lr: float = 1e-3
    epochs: int = 1
    batch_size: int = 1
    drop_last: bool = False  # False: a shorter last batch, like DataLoader and the official code
    lr_decay_per_epoch: float = 1.0  # γ of ExponentialLR, stepped once per epoch
    dtype: str = "float64"
    checkpoints: int = 20  # log-spaced checkpoint steps (plus init and the final step)
    # L2 weight decay on the weights only (parameters with >= 2 dims), per member like lr: see
    # ``make_sgd_step``. 0 skips it (the loukas2021 protocol).
    weight_decay: float = 0.0
    # Label-noise SGD, per member: for classifiers the share of each minibatch relabelled with
    # another class at every step; for regression (mse_half) the std of fresh Gaussian target
    # noise added per example and step. 0 skips it. See ``noisy_labels``.
    label_noise: float = 0.0
    # torch.compile the step: ~5x faster per step on CPU, but 5-40 s to compile (cached on disk
    # after the first time), so worth it only for long runs (paper scale).
    compile: bool = False

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"train.loss must be one of {sorted(LOSSES)}, got {self.loss!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"train.dtype must be one of {sorted(DTYPES)}, got {self.dtype!r}")
        for key in ("lr", "epochs", "batch_size"):
            if getattr(self, key) <= 0:
                raise ValueError(f"train.{key} must be > 0, got {getattr(self, key)}")
        if self.checkpoints < 0:
            raise ValueError(f"train.checkpoints must be >= 0, got {self.checkpoints}")
        for key in ("weight_decay", "label_noise"):
            if not getattr(self, key) >= 0:  # also refuses NaN
                raise ValueError(f"train.{key} must be >= 0, got {getattr(self, key)}")
        if LOSSES[self.loss].classifier and self.label_noise > 1:
            raise ValueError(f"train.label_noise is a share of each minibatch for loss "
                             f"{self.loss!r}: it must be in [0, 1], got {self.label_noise}")
        if not 0 < self.lr_decay_per_epoch <= 1:
            raise ValueError(f"train.lr_decay_per_epoch must be in (0, 1], got "
                             f"{self.lr_decay_per_epoch}")

    def steps_per_epoch(self, n_train: int) -> int:
        """Optimizer steps per epoch: ⌈N/B⌉, or ⌊N/B⌋ with ``drop_last``."""
        if self.drop_last and n_train < self.batch_size:
            raise ValueError(f"train.batch_size={self.batch_size} exceeds the {n_train} training "
                             "examples and train.drop_last is true: no step would be taken")
        return n_train // self.batch_size if self.drop_last else -(-n_train // self.batch_size)


@dataclass
class StepState:
    """What hooks see after one ensemble step. Tensors have a leading member axis M."""

    step: int  # optimizer steps since init, after this step
    epoch: int  # 0-based epoch of this step
    steps_per_epoch: int
    lr: torch.Tensor  # (M,) lr used at this step
    params_before: dict[str, torch.Tensor]  # θ_{t-1}, (M, ...)
    params: dict[str, torch.Tensor]  # θ_t, after the step
    grads: dict[str, torch.Tensor]  # at θ_{t-1}, (M, ...)
    x: torch.Tensor  # the batch of this step, (M, B, ...)
    z: torch.Tensor  # outputs at θ_{t-1}, (M, B[, K])
    # targets the step trained on, (M, B): with train.label_noise the step's noisy labels (so
    # losses, z and grads agree with them); the test set in EvalState stays clean
    y: torch.Tensor
    losses: torch.Tensor  # per-example loss at θ_{t-1}, (M, B)
    loss: Loss


@dataclass
class EvalState:
    """What hooks see at the end of an epoch: the test-set outputs of every member."""

    step: int
    epoch: int
    params: dict[str, torch.Tensor]
    z_test: torch.Tensor  # (M, N_test[, K])
    y_test: torch.Tensor
    loss: Loss


class Hook:
    """Base class: override what you need. Hooks must not modify the parameters."""

    def before_training(self, params: dict[str, torch.Tensor]) -> None: ...

    def after_step(self, state: StepState) -> None: ...

    def after_epoch(self, state: EvalState) -> None: ...

    def after_training(self, params: dict[str, torch.Tensor], step: int) -> None: ...

    def state_dict(self) -> dict:
        """What the hook needs to resume at an epoch boundary (tensors, numbers, strings)."""
        return {}

    def load_state_dict(self, state: dict) -> None: ...


@dataclass
class EnsembleResult:
    params: dict[str, torch.Tensor]
    steps: int
    diverged_step: list[int | None] = field(default_factory=list)  # first non-finite loss
    wall_time_s: float = 0.0


def _to_device(value, device: torch.device):
    """Tensors inside nested dicts, lists and tuples moved to ``device``; other values as is."""
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, dict):
        return {k: _to_device(v, device) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_to_device(v, device) for v in value)
    return value


def _first_non_finite(first_bad: torch.Tensor, finite: list[torch.Tensor], first_step: int
                      ) -> torch.Tensor:
    """``first_bad`` (M,; -1 while finite) with the first of the steps first_step + 1, ... whose
    ``finite`` flag (one (M,) tensor per step) is false, for members that had none before."""
    bad = ~torch.stack(finite)  # (steps, M)
    first = first_step + 1 + bad.to(torch.int32).argmax(dim=0)  # argmax: the first maximum
    return torch.where((first_bad < 0) & bad.any(dim=0), first, first_bad)


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
                   resumer: Resumer | None = None,
                   weight_decays: Sequence[float] | None = None,
                   label_noises: Sequence[float] | None = None,
                   label_noise_keys: Sequence[int | None] | None = None) -> EnsembleResult:
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
    training dtype and device. With a ``resumer``, the loop starts from its saved state if there
    is one and saves its state at epoch boundaries (see :mod:`trainlens.training.resume`).
    """
    start = time.perf_counter()
    loss = LOSSES[config.loss]
    base, params = stack_members(models)
    x_train, y_train, x_test, y_test = stack_splits(splits)
    n_members, n_train = x_train.shape[:2]
    device = x_train.device
    lr0 = torch.tensor(lrs if lrs is not None else [config.lr] * n_members,
                       dtype=x_train.dtype, device=device)

    decay = _per_member(weight_decays, config.weight_decay, n_members, "weight_decay")
    noise = _per_member(label_noises, config.label_noise, n_members, "label_noise")
    decay_tensor = (torch.tensor(decay, dtype=x_train.dtype, device=device)
                    if any(v > 0 for v in decay) else None)  # None: the plain step, bitwise
    step_fn = make_sgd_step(base, loss, config.compile, decay_tensor)
    forward = ensemble_forward(base)
    noisy = any(v > 0 for v in noise)
    keys = list(label_noise_keys) if label_noise_keys is not None else [None] * n_members
    n_classes = _label_classes(loss, forward, params, x_train) if noisy else None

    steps_per_epoch = config.steps_per_epoch(n_train)
    first_bad = torch.full((n_members,), -1, dtype=torch.long, device=device)
    step, first_epoch, elapsed_before = 0, 0, 0.0
    saved = resumer.load() if resumer is not None else None
    if saved is None:
        for hook in hooks:
            hook.before_training(params)
    else:
        params = {name: p.to(device) for name, p in saved["params"].items()}
        first_bad = saved["first_bad"].to(device)
        step, first_epoch, elapsed_before = saved["step"], saved["next_epoch"], saved["wall_time_s"]
        for rng, state in zip(order_rngs, saved["order_rngs"]):
            set_rng_state(rng, state)
        for hook, state in zip(hooks, saved["hooks"]):
            hook.load_state_dict(_to_device(state, device))  # saved states load on the CPU
    for epoch in range(first_epoch, config.epochs):
        lr = lr0 * config.lr_decay_per_epoch ** epoch
        order = torch.from_numpy(np.stack([rng.permutation(n_train) for rng in order_rngs]))
        order = order.to(device)
        finite: list[torch.Tensor] = []  # per step (M,); divergence is located per epoch
        for b in range(steps_per_epoch):
            index = order[:, b * config.batch_size:(b + 1) * config.batch_size]
            x, y = _gather(x_train, index), _gather(y_train, index)
            if noisy:  # label-noise SGD: fresh noise at the step being taken (1-based)
                y = noisy_targets(y, noise, keys, step + 1, n_classes)
            params_before = params
            params, grads, z, per_example, step_finite = step_fn(params, x, y, lr)
            step += 1
            finite.append(step_finite)
            state = StepState(step, epoch, steps_per_epoch, lr, params_before, params, grads, x, z,
                              y, per_example, loss)
            for hook in hooks:
                hook.after_step(state)
        first_bad = _first_non_finite(first_bad, finite, step - len(finite))
        with torch.no_grad():
            z_test = forward(params, x_test)
        for hook in hooks:
            hook.after_epoch(EvalState(step, epoch, params, z_test, y_test, loss))
        if resumer is not None and (resumer.due() or epoch + 1 == config.epochs):
            resumer.save({"step": step, "next_epoch": epoch + 1, "params": params,
                          "first_bad": first_bad,
                          "order_rngs": [rng_state(rng) for rng in order_rngs],
                          "wall_time_s": elapsed_before + time.perf_counter() - start}, hooks)
    for hook in hooks:
        hook.after_training(params, step)
    diverged = [int(s) if s >= 0 else None for s in first_bad.tolist()]
    return EnsembleResult(params, step, diverged, elapsed_before + time.perf_counter() - start)
