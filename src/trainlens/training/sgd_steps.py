"""The plain SGD step of an ensemble (no momentum, optional per-member weight decay): eagerly one
forward of all members and one backward pass (``_autograd_sgd_step``), or ``vmap(grad)`` for
``torch.compile`` (``_functional_sgd_step``), with an eager fallback when compiling fails. Both
give each member the update it would get trained alone (tests/unit/training/test_ensemble.py)."""

from __future__ import annotations

import warnings

import torch
from torch import nn
from torch.func import functional_call, grad_and_value, vmap

from trainlens.losses import Loss
from trainlens.training.stacking import ensemble_forward


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
