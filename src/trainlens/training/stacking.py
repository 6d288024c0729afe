"""Stacking an ensemble: M identically shaped members as one set of parameters with a leading
member axis, their forward pass, and their data (M, N, ...). Shared by the training engines."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from trainlens.splits import Split


def stack_members(models: Sequence[nn.Module]) -> tuple[nn.Module, dict[str, torch.Tensor]]:
    """Stack the trainable parameters of identically shaped ``models`` along a member axis.

    Returns a stateless copy of the first model on the ``meta`` device (for ``functional_call``)
    and the stacked, detached parameters. Frozen parameters and buffers are not supported: every
    model of the suite trains all of its parameters (the loukas2021 identity is folded away).
    """
    for model in models:
        frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
        if frozen or list(model.buffers()):
            raise ValueError(f"ensemble members must train every parameter and hold no buffers; "
                             f"frozen: {frozen}")
    params, _ = stack_module_state(list(models))
    base = copy.deepcopy(models[0]).to("meta")
    return base, {name: p.detach().clone() for name, p in params.items()}


def ensemble_forward(base: nn.Module):
    """(stacked params (M, ...), inputs (M, N, ...)) → outputs (M, N[, K]) of every member: the
    model's own ``forward_stacked`` where it has one (batched matrix products), else ``vmap``."""
    stacked = getattr(base, "forward_stacked", None)
    if stacked is not None:
        return stacked
    return vmap(lambda p, x: functional_call(base, p, (x,)))


def _gather(data: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """data (M, N, ...) indexed per member by index (M, B) → (M, B, ...)."""
    members = torch.arange(data.shape[0], device=data.device).unsqueeze(1)
    return data[members, index]


def stack_splits(splits: Sequence[Split]) -> tuple[torch.Tensor, ...]:
    """Stack the members' train/test tensors along a new member axis (M, N, ...)."""
    return tuple(torch.stack([getattr(s, name) for s in splits])
                 for name in ("x_train", "y_train", "x_test", "y_test"))
