"""The dherin2022 in-training measurements (docs/protocols/dherin2022.md §7), every member at once
and in eval mode: train and test loss and accuracy, exact GC on a fixed training subset and on
the test set, the loss slope ‖∇_θ L‖² on that subset, Σ_l ‖W_l‖²_F and Σ_l σ_max(W_l)² (exact).
Models with BatchNorm are measured on running statistics (§7 pitfall 3). The loop runs them as a
hook at step 0, at every ``log_every`` steps, at each stop and at the end.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call, vmap

from trainlens.losses import Loss
from trainlens.training.loop import Hook
from trainlens.training.recorder import MetricLog
from trainlens.training.regularized import spectral_norms_sq, spectral_weight_names
from trainlens.training.steps.sgd import summed_member_gradients

Params = dict[str, torch.Tensor]
EVAL_CHUNK = 1000  # examples per vmapped evaluation (memory at paper scale)


def member_forwards(base: nn.Module, has_buffers: bool) -> tuple[Callable, Callable]:
    """(one member's forward (p, b, x), every member's forward (p, b, x) (M, n, ...) ->
    (M, n[, K])): the model's batched forward where it has one and no buffers (the MLP; about
    twice as fast a step as vmap, see MLP.forward_stacked)."""

    def forward(p: Params, b: Params, x: torch.Tensor) -> torch.Tensor:
        return functional_call(base, (p, b), (x,))

    stacked = None if has_buffers else getattr(base, "forward_stacked", None)

    def forward_all(p: Params, b: Params, x: torch.Tensor) -> torch.Tensor:
        return stacked(p, x) if stacked is not None else vmap(forward)(p, b, x)

    return forward, forward_all


def over_chunks(fn, p, b, *data):
    """Σ over examples of ``fn`` (every member at once) in chunks of EVAL_CHUNK examples (the
    full CIFAR training set of 18 ResNets does not fit in memory at once)."""
    total = None
    for start in range(0, data[0].shape[1], EVAL_CHUNK):
        part = fn(p, b, *(d[:, start:start + EVAL_CHUNK] for d in data))
        total = part if total is None else (
            {k: total[k] + v for k, v in part.items()} if isinstance(part, dict)
            else total + part)
    return total


class Evaluator:
    """Sums over examples of the members' losses, errors, input gradients and loss gradients."""

    def __init__(self, base: nn.Module, loss: Loss, has_buffers: bool) -> None:
        self.base, self.loss = base, loss
        _, self.forward_all = member_forwards(base, has_buffers)
        self._loss_sum_gradients = summed_member_gradients(
            lambda q, b, x, y: (loss.value(self.forward_all(q, b, x), y).sum(1), ()))

    def losses(self, p: Params, b: Params, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Σ_i ℓ_i and the number of errors per member, (M, 2)."""
        z = self.forward_all(p, b, x)
        return torch.stack([self.loss.value(z, y).sum(1), self.loss.error(z, y).sum(1)], dim=1)

    def gc(self, p: Params, b: Params, x: torch.Tensor) -> torch.Tensor:
        """Σ_i ‖∇ₓ f(x_i)‖²_F per member (M,): one backward pass per output of the forward of
        every member, eval mode (examples do not interact)."""
        x = x.detach().requires_grad_()
        with torch.enable_grad():
            z = self.forward_all(p, b, x)
            z = z.unsqueeze(-1) if z.dim() == 2 else z.flatten(2)  # (M, n, K)
            total = 0
            for k in range(z.shape[-1]):
                (g,) = torch.autograd.grad(z[..., k].sum(), x, retain_graph=k + 1 < z.shape[-1])
                total = total + g.pow(2).flatten(1).sum(1)
        return total

    def gradient(self, p: Params, b: Params, x: torch.Tensor, y: torch.Tensor) -> Params:
        """∇_θ Σ_i ℓ_i per member, a dict of (M, ...)."""
        grads, _ = self._loss_sum_gradients(p, b, x, y)
        return grads

    def train_loss(self, p: Params, b: Params, x: torch.Tensor, y: torch.Tensor
                   ) -> torch.Tensor:
        """The mean loss of every member over all of ``x`` (eval mode), (M,)."""
        self.base.eval()
        try:
            with torch.no_grad():
                return over_chunks(self.losses, p, b, x, y)[:, 0] / x.shape[1]
        finally:
            self.base.train()


class MeasureHook(Hook):
    """Logs the measurements into ``log`` at step 0 (when the group trains at all) and at every
    log boundary; the loop's states are the members' parameters and buffers in one dict."""

    def __init__(self, evaluator: Evaluator, log: MetricLog, data: tuple, buffer_names: set[str],
                 subset: int, complexity: bool, trains: bool) -> None:
        self.evaluator, self.log, self.buffer_names = evaluator, log, buffer_names
        self.x_train, self.y_train, self.x_test, self.y_test = data
        self.subset, self.complexity, self.trains = subset, complexity, trains

    def before_training(self, params: Params) -> None:
        if self.trains:  # a group that only initialises (E1) is measured by the measure stage
            self.after_log((0, params))

    def after_log(self, state: tuple[int, Params]) -> None:
        step, merged = state
        p = {k: v for k, v in merged.items() if k not in self.buffer_names}
        b = {k: v for k, v in merged.items() if k in self.buffer_names}
        if not self._eval_mode(step, p, b):
            return  # without complexity logs, no norms either
        names = spectral_weight_names(p)
        self.log.log("weight_norm_sq", "train", step,
                     sum(p[n].detach().pow(2).flatten(1).sum(1) for n in names))
        self.log.log("spectral_norm_sq", "train", step, spectral_norms_sq(p))

    def _eval_mode(self, step: int, p: Params, b: Params) -> bool:
        """What needs BatchNorm on running statistics: losses, accuracies, GC, loss slope;
        whether the complexity measures are logged."""
        ev, subset = self.evaluator, self.subset
        ev.base.eval()
        try:
            with torch.no_grad():
                for split, x, y in (("train", self.x_train, self.y_train),
                                    ("test", self.x_test, self.y_test)):
                    value, error = over_chunks(ev.losses, p, b, x, y).T / x.shape[1]
                    self.log.log("loss", split, step, value)
                    self.log.log("accuracy", split, step, 1 - error)
            if not self.complexity:
                return False
            for split, x in (("train", self.x_train[:, :subset]), ("test", self.x_test)):
                gc = over_chunks(ev.gc, p, b, x) / x.shape[1]
                self.log.log("geometric_complexity", split, step, gc.detach())
            gradient = over_chunks(ev.gradient, p, b, self.x_train[:, :subset],
                                   self.y_train[:, :subset])
            self.log.log("loss_slope", "train", step,
                         sum((g / subset).pow(2).flatten(1).sum(1) for g in gradient.values()))
            return True
        finally:
            ev.base.train()

    def state_dict(self) -> dict:
        return {}
