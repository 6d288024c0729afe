"""The dherin2022 objective and its gradient, every member at once (docs/protocols/dherin2022.md
§3-4): the loss on the (noisy) batch plus the penalties in use. With the flatness or the GC
penalty, which differentiate inside the objective, ``vmap(grad)`` of one member's objective;
otherwise one batched forward and one backward pass (``summed_member_gradients``)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call, grad_and_value, vmap

from trainlens.losses import Loss
from trainlens.probes.geometric_complexity import hutchinson_sq_norms
from trainlens.training.regularized import as_matrix
from trainlens.training.steps.sgd import summed_member_gradients


def objectives(base: nn.Module, stateless_base: nn.Module, forwards: tuple[Callable, Callable],
               loss: Loss, use: dict[str, bool], spectral_names: list[str], has_buffers: bool):
    """``step_fn(p, b, x, y, extras, h)`` → (gradients, (objective, loss)) per member.

    The penalties differentiate through extra forward passes of the training-mode network
    (``stateless_base``); these use batch statistics without updating BatchNorm's running ones
    (once per step is the main forward's job, and torch.func forbids mutating buffers inside
    nested transforms)."""
    forward, forward_all = forwards

    def stateless(p, x: torch.Tensor) -> torch.Tensor:
        return functional_call(stateless_base, p, (x,))

    def objective(p, b, x, y, extras, h):
        x_seen = x + h["input_noise"] * extras["noise"] if use["input_noise"] else x
        if use["flatness_penalty"]:
            slope, value = grad_and_value(
                lambda q: loss.value(stateless(q, x_seen), y).mean())(p)
            if has_buffers:  # the same batch statistics; this pass updates the running ones
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
        return vmap(grad_and_value(objective, has_aux=True))
    return summed_member_gradients(batched_objective)
