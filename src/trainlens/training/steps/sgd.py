"""The plain-SGD step of an ensemble (no momentum, optional per-member weight decay): eagerly one
forward of all members and one backward pass (``_autograd_sgd_step``), or ``vmap(grad)`` for
``torch.compile`` (``_functional_sgd_step``), with an eager fallback when compiling fails. Both
give each member the update it would get trained alone (tests/unit/training/test_ensemble.py).
``SGDStep`` is that update as a step of the one loop (per-member minibatches, the lr decayed per
epoch, label noise), ``STEPS["sgd"]``."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call, grad_and_value, vmap

from trainlens.data.corruption import noisy_targets
from trainlens.losses import Loss
from trainlens.training.batches import Batches
from trainlens.training.loop import Events
from trainlens.training.stacking import _gather, ensemble_forward


def _broadcast(values: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """(M,) per-member values shaped to broadcast against a stacked parameter (M, ...)."""
    return values.view(-1, *[1] * (p.dim() - 1))


def decays(p: torch.Tensor) -> bool:
    """Whether weight decay applies to a stacked parameter (M, ...): weights (>= 2 dims per
    member), not biases, so the first-layer bias step stays −η∇_{b1}ℓ exactly (loukas2021 τ)."""
    return p.dim() >= 3


def _functional_sgd_step(base: nn.Module, loss: Loss, weight_decay: torch.Tensor | None = None):
    """The step as ``vmap(grad)`` of one member's loss: what ``torch.compile`` fuses. With
    ``weight_decay`` (M,), weights step by −η(g + wd·θ) (``make_sgd_step``)."""

    def member_loss(p: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor):
        z = functional_call(base, p, (x,))
        per_example = loss.value(z, y)
        return per_example.mean(), (z, per_example)

    grad_fn = vmap(grad_and_value(member_loss, has_aux=True))

    def sgd_step(params: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor,
                 lr: torch.Tensor):
        grads, (_, (z, per_example)) = grad_fn(params, x, y)
        if weight_decay is None:
            new = {name: p - lr.view(-1, *[1] * (p.dim() - 1)) * grads[name]
                   for name, p in params.items()}
        else:
            new = {name: p - _broadcast(lr, p) * (grads[name] + _broadcast(weight_decay, p) * p)
                   if decays(p) else p - _broadcast(lr, p) * grads[name]
                   for name, p in params.items()}
        return new, grads, z, per_example, torch.isfinite(per_example).all(dim=1)

    return sgd_step


def summed_member_gradients(batched):
    """``batched(params, *args)`` → (per-member objective (M,), aux: a tensor, a tuple of
    tensors or ()) turned into (per-member gradients, (objective, aux)), detached, by one backward
    pass of the members' sum: members share no parameter, so the gradient of the sum in θ_m is
    member m's own. The same as ``vmap(grad_and_value(·, has_aux=True))`` without functorch's
    per-operation transforms (faster eagerly, and a job that does not compile never imports
    torch._dynamo, 3.5 s).

    The gradients are returned contiguous: through ``vmap`` a weight's gradient comes back
    transposed in memory, and every elementwise pass over it afterwards (finiteness check,
    optimizer) then ran several times slower than the copy costs (a 2 x 64-2048-10 MLP: Adam
    2.7 ms -> 1.0 ms a step)."""

    def gradients(params: dict[str, torch.Tensor], *args):
        leaves = {name: p.detach().requires_grad_() for name, p in params.items()}
        with torch.enable_grad():
            total, aux = batched(leaves, *args)
            grads = torch.autograd.grad(total.sum(), tuple(leaves.values()))
        aux = aux.detach() if isinstance(aux, torch.Tensor) else tuple(t.detach() for t in aux)
        return {name: g.contiguous() for name, g in zip(leaves, grads)}, (total.detach(), aux)

    return gradients


def _autograd_sgd_step(base: nn.Module, loss: Loss, weight_decay: torch.Tensor | None = None):
    """The eager step: one forward of every member (``ensemble_forward``) and one backward pass
    (``summed_member_gradients``); the same step as ``_functional_sgd_step`` (tested to
    1e-12), weight decay included."""
    forward = ensemble_forward(base)

    def mean_losses(params: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor):
        z = forward(params, x)
        per_example = loss.value(z, y)  # (M, B): losses take any leading axes
        return per_example.mean(dim=1), (z, per_example)

    gradients = summed_member_gradients(mean_losses)

    def sgd_step(params: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor,
                 lr: torch.Tensor):
        grads, (_, (z, per_example)) = gradients(params, x, y)
        # one fused θ − η·g per parameter (at batch size 1 every operation counts)
        if weight_decay is None:
            new = {name: torch.addcmul(p, lr.view(-1, *[1] * (p.dim() - 1)), grads[name],
                                       value=-1)
                   for name, p in params.items()}
        else:  # g + wd·θ on weights; the returned grads stay the loss gradients
            new = {name: torch.addcmul(p, _broadcast(lr, p),
                                       torch.addcmul(grads[name], _broadcast(weight_decay, p), p)
                                       if decays(p) else grads[name], value=-1)
                   for name, p in params.items()}
        return new, grads, z, per_example, torch.isfinite(per_example).all(dim=1)

    return sgd_step


def make_sgd_step(base: nn.Module, loss: Loss, compile: bool = False,
                  weight_decay: torch.Tensor | None = None):
    """One plain-SGD step of every member: θ_t = θ_{t-1} − η_t ∇_θ mean_b ℓ(z(x_b; θ_{t-1}), y_b).

    With ``weight_decay`` (M,) (L2, the atlas knob ``train.weight_decay``), a weight W (a
    parameter with >= 2 dims) steps by W_t = W_{t-1} − η_t(∇_W ℓ + wd·W_{t-1}), as
    ``torch.optim.SGD(weight_decay=wd)`` does; biases are NOT decayed, so the first-layer bias
    step stays exactly −η_t∇_{b1}ℓ, which loukas2021's τ relies on (``BiasTrajectoryHook`` reads
    it from the gradient in float32). ``None`` (every member's wd is 0) is the plain step's own
    code path, bitwise as before the knob existed.

    A pure function (params, x, y, lr) → (new params, grads at θ_{t-1}: the loss gradients,
    without the decay term, z, per-example losses, (M,) whether every loss of the batch is
    finite), so hooks can compare θ_{t-1} and θ_t without copies. Eagerly it is
    ``_autograd_sgd_step``; compiled, ``torch.compile`` fuses ``_functional_sgd_step``.
    """
    eager = _autograd_sgd_step(base, loss, weight_decay)
    if not compile:
        return eager
    state = {"step": torch.compile(_functional_sgd_step(base, loss, weight_decay),
                                   dynamic=False)}

    def step_with_fallback(*args):
        # Inductor needs a C++ compiler; without one, train on eagerly rather than fail.
        try:
            return state["step"](*args)
        except Exception as error:  # noqa: BLE001 - any backend failure, reported below
            if state["step"] is eager:
                raise
            warnings.warn(f"torch.compile failed ({type(error).__name__}: {error}); "
                          "training continues without compiling", stacklevel=2)
            state["step"] = eager
            return eager(*args)

    return step_with_fallback


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


@dataclass
class LabelNoise:
    """Label-noise SGD of an ensemble (``corruption.noisy_targets``): per-member strengths,
    keys and the number of classes (None: Gaussian target noise for regression)."""

    strengths: list[float]
    keys: list[int | None]
    n_classes: int | None


class SGDStep:
    """The plain-SGD ensemble as a step of :func:`trainlens.training.loop.run_loop`: per-member
    minibatches, lr decayed once per epoch (γ^epoch), optional label noise; a boundary at every
    epoch's end, where the log hooks see the test-set outputs (``EvalState``)."""

    freezes_diverged = False  # a diverged member trains on (its rows are dropped later)

    def __init__(self, base: nn.Module, params: dict[str, torch.Tensor], data: tuple,
                 batches: Batches, lr0: torch.Tensor, lr_decay: float, total: int, loss: Loss,
                 step_fn, label_noise: LabelNoise | None = None) -> None:
        self._params, self.base, self.loss = params, base, loss
        self.x_train, self.y_train, self.x_test, self.y_test = data
        self.batches, self.lr0, self.lr_decay, self.total = batches, lr0, lr_decay, total
        self.steps_per_epoch, self.n_members = batches.per_epoch, self.x_train.shape[0]
        self.step_fn, self.label_noise = step_fn, label_noise
        self.forward = ensemble_forward(base)
        self._epoch, self._lr = -1, lr0

    def __call__(self, step: int) -> tuple[StepState, torch.Tensor]:
        epoch = (step - 1) // self.steps_per_epoch
        if epoch != self._epoch:
            self._epoch, self._lr = epoch, self.lr0 * self.lr_decay ** epoch
        index = self.batches.next()
        x, y = _gather(self.x_train, index), _gather(self.y_train, index)
        if self.label_noise is not None:  # fresh noise at the step being taken (1-based)
            noise = self.label_noise
            y = noisy_targets(y, noise.strengths, noise.keys, step, noise.n_classes)
        before = self._params
        self._params, grads, z, per_example, finite = self.step_fn(before, x, y, self._lr)
        return StepState(step, epoch, self.steps_per_epoch, self._lr, before, self._params, grads,
                         x, z, y, per_example, self.loss), finite

    def blame(self, step: int) -> int:
        return step

    def events(self, step: int) -> Events | None:
        return Events(log=True) if step % self.steps_per_epoch == 0 else None

    def reached(self, step: int, keep: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(keep)

    def log_state(self, step: int) -> EvalState:
        with torch.no_grad():
            z_test = self.forward(self._params, self.x_test)
        return EvalState(step, (step - 1) // self.steps_per_epoch, self._params, z_test,
                         self.y_test, self.loss)

    def params(self) -> dict[str, torch.Tensor]:
        return self._params

    def compact(self, live: torch.Tensor) -> None:
        raise AssertionError("the SGD ensemble keeps every member")

    def state_dict(self) -> dict:
        return {"params": self._params, "batches": self.batches.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        device = self.x_train.device
        self._params = {name: p.to(device) for name, p in state["params"].items()}
        self.batches.load_state_dict(state["batches"])
