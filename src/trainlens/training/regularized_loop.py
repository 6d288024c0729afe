"""The dherin2022 training loop: one vmapped step of every member's regularised objective.

See :mod:`trainlens.training.regularized` for the objective and conventions. Logged every
``log_every`` steps (and at 0, at each stop and at the end), per member, in eval mode: train and
test loss and accuracy, exact GC on the fixed training subset and on the test set, the loss slope
‖∇_θ L‖² on that subset, Σ_l ‖W_l‖²_F and Σ_l σ_max(W_l)² (exact). Models with BatchNorm train
with batch statistics and are measured on running statistics (docs/protocols/dherin2022.md §7
pitfall 3).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from copy import deepcopy
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad_and_value, vmap
from torch.nn.modules.batchnorm import _BatchNorm

from trainlens.data.corruption import label_noise_sgd
from trainlens.losses import LOSSES
from trainlens.probes.geometric_complexity import hutchinson_sq_norms
from trainlens.training.recorder import MetricLog
from trainlens.training.regularized import (
    Optimizer,
    RegularizedTrainConfig,
    as_matrix,
    finite_members,
    power_iteration,
    spectral_norms_sq,
    spectral_weight_names,
)
from trainlens.training.sgd_steps import summed_member_gradients
from trainlens.training.stacking import _gather

Params = dict[str, torch.Tensor]
EVAL_CHUNK = 1000  # examples per vmapped evaluation (memory at paper scale)


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


@dataclass
class _LiveState:
    """The vmapped training state of the members still training (all of them at first)."""

    params: Params
    buffers: Params
    hyper: Params
    u: Params  # power-iteration vectors
    optimizer: Optimizer
    x: torch.Tensor
    y: torch.Tensor
    streams: list[MemberStreams]

    @classmethod
    def take(cls, live: torch.Tensor, params: Params, buffers: Params, hyper: Params, u: Params,
             optimizer: Optimizer, x: torch.Tensor, y: torch.Tensor,
             streams: Sequence[MemberStreams]) -> _LiveState:
        def pick(state: Params) -> Params:
            return {k: v[live] for k, v in state.items()}

        return cls(pick(params), pick(buffers), pick(hyper), pick(u), optimizer.take(live),
                   x[live], y[live], [streams[i] for i in live.tolist()])

    def write_back(self, live: torch.Tensor | None, params: Params, buffers: Params, u: Params,
                   optimizer: Optimizer) -> tuple[Params, Params, Params, Optimizer]:
        """The full state (every member) with the live members' current values."""
        if live is None:  # the live state is the full state
            return self.params, self.buffers, self.u, self.optimizer

        def put(full: Params, part: Params) -> Params:
            return {k: full[k].index_copy(0, live, part[k]) for k in full}

        optimizer.put(live, self.optimizer)
        return put(params, self.params), put(buffers, self.buffers), put(u, self.u), optimizer


def _per_member(configs: Sequence[RegularizedTrainConfig], key: str, like: torch.Tensor
                ) -> torch.Tensor:
    return torch.tensor([getattr(c, key) for c in configs], dtype=like.dtype, device=like.device)


def _batches(n: int, batch_size: int, orders: Sequence[np.random.Generator], device):
    """Per-member minibatch indices (M, B), reshuffled each epoch; None for full batch."""
    while True:
        if batch_size == 0:
            yield None
            continue
        order = torch.from_numpy(np.stack([rng.permutation(n) for rng in orders])).to(device)
        for start in range(0, n, batch_size):
            yield order[:, start:start + batch_size]


class Progress:
    """One stderr line per ~10% of the steps or every 30 s (job logs are not terminals)."""

    def __init__(self, label: str, steps: int) -> None:
        self.label, self.steps, self.start = label, steps, time.perf_counter()
        self.last, self.next_fraction = self.start, 0.1

    def update(self, step: int, active: int) -> None:
        now = time.perf_counter()
        done = step / max(self.steps, 1)
        if done >= self.next_fraction or now - self.last >= 30 or step == self.steps:
            eta = (now - self.start) / max(step, 1) * (self.steps - step)
            print(f"[{self.label}] step {step}/{self.steps}, {active} members training, "
                  f"elapsed {now - self.start:.0f}s, at most {eta:.0f}s to go",
                  file=sys.stderr, flush=True)
            self.last = now
            while self.next_fraction <= done:
                self.next_fraction += 0.1


# C901 allowed: one of the three engines that issue 27 item 1 merges into one loop with steps
def train_regularized(base: nn.Module, params: Params, buffers: Params,  # noqa: C901
                      x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor,
                      y_test: torch.Tensor, configs: Sequence[RegularizedTrainConfig],
                      streams: Sequence[MemberStreams], label: str = "group",
                      checkpoint: Callable[[int, Params], None] | None = None
                      ) -> RegularizedResult:
    """Train the stacked members (params/buffers (M, ...), data (M, N, ...)) for
    ``configs[0].steps`` steps; ``configs[m]`` holds member m's strengths and lr (every other
    field is shared). ``checkpoint(step, params | buffers)`` is called at step 0, at the steps
    of ``checkpoint_epochs`` and at the end."""
    start_time = time.perf_counter()
    shared = configs[0]
    loss = LOSSES[shared.loss]
    n_members, n_train = x_train.shape[:2]
    device, dtype = x_train.device, x_train.dtype
    hyper = {key: _per_member(configs, key, x_train)
             for key in ("lr", "weight_decay", "spectral_penalty", "flatness_penalty",
                         "gc_penalty", "input_noise")}
    use = {key: bool((hyper[key] > 0).any())
           for key in ("spectral_penalty", "flatness_penalty", "gc_penalty", "input_noise")}
    use["label_noise"] = any(c.label_noise > 0 for c in configs)
    spectral_names = spectral_weight_names(params)
    decays = bool((hyper["weight_decay"] > 0).any())

    def forward(p: Params, b: Params, x: torch.Tensor) -> torch.Tensor:
        return functional_call(base, (p, b), (x,))

    # Every member at once, (M, n, ...) -> (M, n[, K]): the model's batched forward where it has
    # one and no buffers (the MLP; about twice as fast a step as vmap, see MLP.forward_stacked)
    stacked = None if buffers else getattr(base, "forward_stacked", None)

    def forward_all(p: Params, b: Params, x: torch.Tensor) -> torch.Tensor:
        return stacked(p, x) if stacked is not None else vmap(forward)(p, b, x)

    # The penalties differentiate through extra forward passes of the training-mode network;
    # these use batch statistics without updating BatchNorm's running ones (once per step is
    # the main forward's job, and torch.func forbids mutating buffers inside nested transforms).
    stateless_base = _without_running_stats(base) if buffers else base

    def stateless(p: Params, x: torch.Tensor) -> torch.Tensor:
        return functional_call(stateless_base, p, (x,))

    def objective(p, b, x, y, extras, h):
        x_seen = x + h["input_noise"] * extras["noise"] if use["input_noise"] else x
        if use["flatness_penalty"]:
            slope, value = grad_and_value(
                lambda q: loss.value(stateless(q, x_seen), y).mean())(p)
            if buffers:  # the same batch statistics; this pass updates the running ones
                forward(p, b, x_seen)
            total = value + h["flatness_penalty"] * sum(g.pow(2).sum() for g in slope.values())
        else:
            value = loss.value(forward(p, b, x_seen), y).mean()
            total = value
        if use["spectral_penalty"]:
            sigma_sq = sum((extras["u"][n] @ as_matrix(p[n]) @ extras["v"][n]) ** 2
                           for n in spectral_names)
            total = total + h["spectral_penalty"] * sigma_sq
        if use["gc_penalty"]:
            estimate = hutchinson_sq_norms(lambda xx: stateless(p, xx), x, extras["signs"])
            total = total + h["gc_penalty"] * estimate.mean()
        return total, value

    def batched_objective(p, b, x, y, extras, h):
        """``objective`` of every member at once, (M,), without the nested penalties."""
        noise_scale = h["input_noise"].view(-1, *[1] * (x.dim() - 1))
        x_seen = x + noise_scale * extras["noise"] if use["input_noise"] else x
        value = loss.value(forward_all(p, b, x_seen), y).mean(1)
        total = value
        if use["spectral_penalty"]:  # u_mᵀ W_m v_m per member
            sigma_sq = sum(torch.einsum("mo,moi,mi->m", extras["u"][n], p[n].flatten(2),
                                        extras["v"][n]) ** 2 for n in spectral_names)
            total = total + h["spectral_penalty"] * sigma_sq
        return total, value

    if use["flatness_penalty"] or use["gc_penalty"]:  # the objective differentiates inside
        step_fn = vmap(grad_and_value(objective, has_aux=True))
    else:
        step_fn = summed_member_gradients(batched_objective)

    def eval_losses(p, b, x, y):
        """Σ_i ℓ_i and the number of errors per member, (M, 2)."""
        z = forward_all(p, b, x)
        return torch.stack([loss.value(z, y).sum(1), loss.error(z, y).sum(1)], dim=1)

    def eval_gc(p, b, x):
        """Σ_i ‖∇ₓ f(x_i)‖²_F per member (M,): one backward pass per output of the forward of
        every member, eval mode (examples do not interact)."""
        x = x.detach().requires_grad_()
        with torch.enable_grad():
            z = forward_all(p, b, x)
            z = z.unsqueeze(-1) if z.dim() == 2 else z.flatten(2)  # (M, n, K)
            total = 0
            for k in range(z.shape[-1]):
                (g,) = torch.autograd.grad(z[..., k].sum(), x, retain_graph=k + 1 < z.shape[-1])
                total = total + g.pow(2).flatten(1).sum(1)
        return total

    loss_sum_gradients = summed_member_gradients(
        lambda q, b, x, y: (loss.value(forward_all(q, b, x), y).sum(1), ()))

    def eval_gradient(p, b, x, y):
        """∇_θ Σ_i ℓ_i per member, a dict of (M, ...)."""
        grads, _ = loss_sum_gradients(p, b, x, y)
        return grads

    def over_chunks(fn, p, b, *data):
        """Σ over examples of ``fn`` (every member at once) in chunks of EVAL_CHUNK examples
        (the full CIFAR training set of 18 ResNets does not fit in memory at once)."""
        total = None
        for start in range(0, data[0].shape[1], EVAL_CHUNK):
            part = fn(p, b, *(d[:, start:start + EVAL_CHUNK] for d in data))
            total = part if total is None else (
                {k: total[k] + v for k, v in part.items()} if isinstance(part, dict)
                else total + part)
        return total

    subset = shared.log_subset or n_train
    log = MetricLog(shared.steps_per_epoch(n_train))

    def measure(step: int, p: Params) -> None:
        base.eval()  # BatchNorm on running statistics for every measurement
        try:
            with torch.no_grad():
                for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
                    value, error = over_chunks(eval_losses, p, buffers, x, y).T / x.shape[1]
                    log.log("loss", split, step, value)
                    log.log("accuracy", split, step, 1 - error)
            if not shared.log_complexity:
                return
            for split, x in (("train", x_train[:, :subset]), ("test", x_test)):
                gc = over_chunks(eval_gc, p, buffers, x) / x.shape[1]
                log.log("geometric_complexity", split, step, gc.detach())
            gradient = over_chunks(eval_gradient, p, buffers, x_train[:, :subset],
                                   y_train[:, :subset])
            log.log("loss_slope", "train", step,
                    sum((g / subset).pow(2).flatten(1).sum(1) for g in gradient.values()))
        finally:
            base.train()
        log.log("weight_norm_sq", "train", step,
                sum(p[n].detach().pow(2).flatten(1).sum(1) for n in spectral_names))
        log.log("spectral_norm_sq", "train", step, spectral_norms_sq(p))

    def full_train_loss(live: _LiveState) -> torch.Tensor:
        base.eval()
        try:
            with torch.no_grad():
                return over_chunks(eval_losses, live.params, live.buffers, live.x,
                                   live.y)[:, 0] / live.x.shape[1]
        finally:
            base.train()

    u: Params = {}
    if use["spectral_penalty"]:
        u = {n: torch.stack([torch.randn(params[n].shape[1], generator=s.spectral, dtype=dtype)
                             for s in streams]).to(device) for n in spectral_names}
    n_outputs = (_n_outputs(base, params, buffers, x_train)
                 if use["gc_penalty"] or use["label_noise"] else 0)
    optimizer = Optimizer(shared.optimizer, params)
    active = torch.ones(n_members, dtype=torch.bool, device=device)
    diverged: list[int | None] = [None] * n_members
    stopped: list[int | None] = [None] * n_members
    base.train()
    if shared.steps > 0:  # a group that only initialises (E1) is measured by the measure stage
        measure(0, params)
    if checkpoint is not None:
        checkpoint(0, {**params, **buffers})
    save_at = shared.checkpoint_steps(n_train)
    progress = Progress(label, shared.steps)
    batches = _batches(n_train, shared.batch_size, [s.order for s in streams], device)
    # Only the members still training take part in a step: stopped or diverged ones are dropped
    # from the vmapped state (``live``: their indices; None while every member trains).
    live: torch.Tensor | None = None
    state = _LiveState(params, buffers, hyper, u, optimizer, x_train, y_train, streams)
    # A host read waits for the device, so a step reads nothing back: divergence is tracked on
    # the device (``training``: live members whose loss stayed finite, frozen otherwise;
    # ``bad_at``: the step it first was not) and looked at every check_every steps, at logs,
    # checkpoints and the end, where stopped and diverged members leave the live state.
    members = list(range(n_members))  # the member index of each live position
    training, bad_at = _fresh_flags(n_members, device)
    step = 0
    for step in range(1, shared.steps + 1):
        index = next(batches)
        if index is not None and live is not None:
            index = index[live]
        x, y = (state.x, state.y) if index is None else (_gather(state.x, index),
                                                          _gather(state.y, index))
        if use["label_noise"]:  # training labels only: logs and checks see the clean ones
            y = label_noise_sgd(y, [configs[m].label_noise for m in members],
                                [s.label_noise for s in state.streams], step, n_outputs)
        extras: dict[str, object] = {}
        if use["input_noise"]:
            extras["noise"] = torch.stack([torch.randn(x.shape[1:], generator=s.noise,
                                                       dtype=dtype) for s in state.streams]
                                          ).to(device)
        if use["gc_penalty"]:  # Rademacher (P, B, K) per member, from its "probes" stream
            extras["signs"] = torch.stack([
                2 * torch.randint(0, 2, (shared.gc_projections, x.shape[1], n_outputs),
                                  generator=s.probes).to(dtype) - 1 for s in state.streams]
            ).to(device)
        if use["spectral_penalty"]:
            state.u, v = power_iteration({n: state.params[n] for n in spectral_names}, state.u)
            extras["u"], extras["v"] = state.u, v
        grads, (_, value) = step_fn(state.params, state.buffers, x, y, extras, state.hyper)
        # a non-finite loss or gradient is divergence (the gradient sum is one read per member)
        finite = torch.isfinite(value) & finite_members(grads)
        bad_at = torch.where(training & ~finite, step, bad_at)
        training = training & finite  # a diverged member stays frozen until it is dropped
        state.params = state.optimizer.step(state.params, grads, state.hyper["lr"],
                                            state.hyper["weight_decay"] if decays else None,
                                            training)
        checks_target = shared.target_loss > 0 and step % shared.check_every == 0
        logs, save = step % shared.log_every == 0, checkpoint is not None and step in save_at
        if not (step % shared.check_every == 0 or logs or save or step == shared.steps):
            progress.update(step, len(members))
            continue  # no host read: the device runs ahead
        keep = training.clone()
        if checks_target:
            reached = training & (full_train_loss(state) < shared.target_loss)
            for position in reached.nonzero().flatten().tolist():
                stopped[members[position]] = step
            keep &= ~reached
        changed = not bool(keep.all())
        last = step == shared.steps or (changed and not bool(keep.any()))
        if changed:
            for position, bad_step in enumerate(bad_at.tolist()):
                if bad_step >= 0:
                    diverged[members[position]] = bad_step
        save = save and not last
        if changed or last or save or logs:
            params, buffers, u, optimizer = state.write_back(live, params, buffers, u, optimizer)
            active[torch.tensor(members, device=device)[~keep]] = False
        if logs or changed or last:
            measure(step, params)
        if save:
            checkpoint(step, {**params, **buffers})
        if changed and not last:
            live = active.nonzero().flatten()
            state = _LiveState.take(live, params, buffers, hyper, u, optimizer, x_train, y_train,
                                    streams)
            members = live.tolist()
            training, bad_at = _fresh_flags(len(members), device)
        progress.update(step, len(members))
        if last:
            break
    if checkpoint is not None and step > 0:
        checkpoint(step, {**params, **buffers})
    return RegularizedResult(params, buffers, step, diverged, stopped,
                             time.perf_counter() - start_time, log)


def _fresh_flags(n: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """``training`` (all true) and ``bad_at`` (all -1) for ``n`` live members."""
    return (torch.ones(n, dtype=torch.bool, device=device),
            torch.full((n,), -1, dtype=torch.long, device=device))


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
