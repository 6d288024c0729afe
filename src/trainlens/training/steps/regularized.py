"""The dherin2022 step (docs/protocols/dherin2022.md §3-4): one vmapped step of every member's
regularised objective with its optimizer (see :mod:`trainlens.training.regularized`).

    objective_m = L_B(θ; x + σ_m ε, ỹ) + λ^spec_m Σ_l σ_max(W_l)² + μ_m ‖∇_θ L_B‖² + λ^GC_m GĈ_B(θ)

A term whose strength is 0 for every member is not computed. A member whose loss or gradient
turns non-finite is frozen at once; the loop drops it (and members that reached
``target_loss``) from the vmapped state at its next boundary: a check (``check_every``), a log
(``log_every``), a checkpoint or the end. Between boundaries nothing is read back from the device.
"""

from __future__ import annotations

from collections.abc import Sequence
from copy import deepcopy
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call
from torch.nn.modules.batchnorm import _BatchNorm

from trainlens.data.corruption import label_noise_sgd
from trainlens.experiments.train_config import TrainConfig
from trainlens.losses import LOSSES
from trainlens.training.batches import Batches
from trainlens.training.job import to_device
from trainlens.training.loop import Events
from trainlens.training.regularized import (
    Optimizer,
    finite_members,
    power_iteration,
    spectral_weight_names,
)
from trainlens.training.stacking import _gather
from trainlens.training.steps.regularized_eval import Evaluator, member_forwards
from trainlens.training.steps.regularized_objective import objectives

Params = dict[str, torch.Tensor]
STATE_TENSORS = ("params", "buffers", "u", "moments", "count", "live")
HYPER = ("lr", "weight_decay", "spectral_penalty", "flatness_penalty", "gc_penalty",
         "input_noise")


@dataclass(frozen=True)
class Stepped:
    """What hooks see after a step: its number (the measurements run at log boundaries)."""

    step: int


@dataclass
class _State:
    """The vmapped training state of the members still training (all of them at first), or
    the full state of every member."""

    params: Params
    buffers: Params
    hyper: Params
    u: Params  # power-iteration vectors
    optimizer: Optimizer
    x: torch.Tensor
    y: torch.Tensor
    streams: list

    def take(self, live: torch.Tensor) -> _State:
        def pick(state: Params) -> Params:
            return {k: v[live] for k, v in state.items()}

        return _State(pick(self.params), pick(self.buffers), pick(self.hyper), pick(self.u),
                      self.optimizer.take(live), self.x[live], self.y[live],
                      [self.streams[i] for i in live.tolist()])

    def put(self, live: torch.Tensor, part: _State) -> None:
        """Write the live members' current values into this (full) state."""
        def put(full: Params, sub: Params) -> Params:
            return {k: full[k].index_copy(0, live, sub[k]) for k in full}

        self.optimizer.put(live, part.optimizer)
        self.params, self.buffers = put(self.params, part.params), put(self.buffers, part.buffers)
        self.u = put(self.u, part.u)


class RegularizedStep:
    """Every member's regularised objective, one optimizer step at a time (``run_loop``)."""

    freezes_diverged = True

    def __init__(self, base: nn.Module, params: Params, buffers: Params, x_train: torch.Tensor,
                 y_train: torch.Tensor, configs: Sequence[TrainConfig],
                 streams: Sequence, checkpoints: bool) -> None:
        shared = self.shared = configs[0]
        self.configs, self.base, self.total = configs, base, shared.steps
        self.n_members, n_train = x_train.shape[:2]
        device, self.dtype = x_train.device, x_train.dtype
        hyper = {key: torch.tensor([getattr(c, key) for c in configs], dtype=self.dtype,
                                   device=device) for key in HYPER}
        self.use = {key: bool((hyper[key] > 0).any()) for key in HYPER[2:]}
        self.use["label_noise"] = any(c.label_noise > 0 for c in configs)
        self.spectral_names = spectral_weight_names(params)
        self.decays = bool((hyper["weight_decay"] > 0).any())
        loss = LOSSES[shared.loss]
        self.evaluator = Evaluator(base, loss, bool(buffers))
        self.step_fn = objectives(base, _without_running_stats(base) if buffers else base,
                                  member_forwards(base, bool(buffers)), loss, self.use,
                                  self.spectral_names, bool(buffers))
        u: Params = {}
        if self.use["spectral_penalty"]:
            u = {n: torch.stack([torch.randn(params[n].shape[1], generator=s.spectral,
                                             dtype=self.dtype) for s in streams]).to(device)
                 for n in self.spectral_names}
        self.n_outputs = (_n_outputs(base, params, buffers, x_train)
                          if self.use["gc_penalty"] or self.use["label_noise"] else 0)
        self.full = _State(params, buffers, hyper, u, Optimizer(shared.optimizer, params),
                           x_train, y_train, list(streams))
        self.state, self.live = self.full, None  # live: the indices of the members training
        self.training = torch.ones(self.n_members, dtype=torch.bool, device=device)
        self.batches = Batches(n_train, shared.batch_size, [s.order for s in streams], device)
        self.save_at = shared.checkpoint_steps(n_train) if checkpoints else set()
        base.train()

    def _extras(self, x: torch.Tensor) -> dict[str, object]:
        """The step's random inputs of the terms in use: input noise, Rademacher projections
        (P, B, K) per member, and one power iteration's vectors."""
        state, extras = self.state, {}
        if self.use["input_noise"]:
            extras["noise"] = torch.stack([torch.randn(x.shape[1:], generator=s.noise,
                                                       dtype=self.dtype) for s in state.streams]
                                          ).to(x.device)
        if self.use["gc_penalty"]:
            extras["signs"] = torch.stack([
                2 * torch.randint(0, 2, (self.shared.gc_projections, x.shape[1], self.n_outputs),
                                  generator=s.probes).to(self.dtype) - 1 for s in state.streams]
            ).to(x.device)
        if self.use["spectral_penalty"]:
            state.u, v = power_iteration({n: state.params[n] for n in self.spectral_names},
                                         state.u)
            extras["u"], extras["v"] = state.u, v
        return extras

    def __call__(self, step: int) -> tuple[Stepped, torch.Tensor]:
        state, index = self.state, self.batches.next()
        if index is not None and self.live is not None:
            index = index[self.live]
        x, y = (state.x, state.y) if index is None else (_gather(state.x, index),
                                                          _gather(state.y, index))
        if self.use["label_noise"]:  # training labels only: logs and checks see the clean ones
            members = self.live.tolist() if self.live is not None else range(self.n_members)
            y = label_noise_sgd(y, [self.configs[m].label_noise for m in members],
                                [s.label_noise for s in state.streams], step, self.n_outputs)
        grads, (_, value) = self.step_fn(state.params, state.buffers, x, y, self._extras(x),
                                         state.hyper)
        # a non-finite loss or gradient is divergence (the gradient sum is one read per member)
        finite = torch.isfinite(value) & finite_members(grads)
        self.training = self.training & finite  # a diverged member stays frozen until dropped
        state.params = state.optimizer.step(state.params, grads, state.hyper["lr"],
                                            state.hyper["weight_decay"] if self.decays else None,
                                            self.training)
        return Stepped(step), finite

    def blame(self, step: int) -> int:
        return step

    def events(self, step: int) -> Events | None:
        checks = step % self.shared.check_every == 0
        logs, save = step % self.shared.log_every == 0, step in self.save_at
        if not (checks or logs or save or step == self.total):
            return None  # no host read: the device runs ahead
        return Events(log=logs, save=save, check=self.shared.target_loss > 0 and checks)

    def reached(self, step: int, keep: torch.Tensor) -> torch.Tensor:
        state = self.state
        loss = self.evaluator.train_loss(state.params, state.buffers, state.x, state.y)
        return keep & (loss < self.shared.target_loss)

    def _sync(self) -> None:
        if self.live is not None:
            self.full.put(self.live, self.state)

    def params(self) -> Params:
        """Every member's parameters and buffers (stopped members hold their last values)."""
        self._sync()
        return {**self.full.params, **self.full.buffers}

    def log_state(self, step: int) -> tuple[int, Params]:
        return step, self.params()

    def compact(self, live: torch.Tensor) -> None:
        self._sync()
        self.live, self.state = live, self.full.take(live)
        self.training = torch.ones(len(live), dtype=torch.bool, device=live.device)

    def state_dict(self) -> dict:
        self._sync()
        full = self.full
        return {"params": full.params, "buffers": full.buffers, "u": full.u,
                "moments": list(full.optimizer.moments), "count": full.optimizer.count,
                "live": self.live, "batches": self.batches.state_dict(),
                "generators": [[g.get_state() for g in (s.noise, s.probes, s.spectral)]
                               for s in full.streams]}

    def load_state_dict(self, state: dict) -> None:
        full, device = self.full, self.full.x.device
        state = {**state, **to_device({k: state[k] for k in STATE_TENSORS}, device)}
        full.params, full.buffers, full.u = state["params"], state["buffers"], state["u"]
        full.optimizer.moments, full.optimizer.count = tuple(state["moments"]), state["count"]
        for s, saved in zip(full.streams, state["generators"]):
            for generator, value in zip((s.noise, s.probes, s.spectral), saved):
                generator.set_state(value)
        self.batches.load_state_dict(state["batches"])
        self.state, self.live = full, None
        if state["live"] is not None:
            self.compact(state["live"])


def _without_running_stats(base: nn.Module) -> nn.Module:
    """A copy of ``base`` whose BatchNorm layers normalise by batch statistics and keep none."""
    copy = deepcopy(base)
    for module in copy.modules():
        if isinstance(module, _BatchNorm):
            module.track_running_stats = False
            module.running_mean = module.running_var = module.num_batches_tracked = None
    return copy


def _n_outputs(base: nn.Module, params: Params, buffers: Params, x: torch.Tensor) -> int:
    """K, the number of logits, from one member's output on one example (in eval mode: a
    BatchNorm layer cannot normalise a batch of one by its own statistics)."""
    base.eval()
    try:
        with torch.no_grad():
            one = {k: v[0] for k, v in params.items()}, {k: v[0] for k, v in buffers.items()}
            return functional_call(base, one, (x[0, :1],)).shape[-1]
    finally:
        base.train()


