"""Kernel-side measures of one checkpoint for the atlas study (issue 29), after nakazato2024.

- ``ntk_diagonal_mean`` (split ``train``): the empirical NTK diagonal
  Θ(x, x) = ‖∇_θ f(x)‖² (for K outputs the trace Σ_k ‖∇_θ f_k(x)‖²), averaged over the first
  ``n`` training inputs. By the first-order factorization of docs/protocols/nakazato2024.md §4.2,
  R(x | x) ≈ −η ℓ'(x) Θ(x, x): Θ(x, x) is the one-step training response of f at the visited
  point per unit learning rate and unit loss derivative (§4.1's response with x_j = x_i).
  Computed with ``torch.func``: ``vmap`` over the examples of ``jacrev`` of a
  ``functional_call`` (no Python loop over examples), in chunks of ``chunk_size`` examples, the
  squares summed in float64 inside the map so only N numbers come out.
- ``weight_participation_ratio`` (split ``params``): nakazato2024's PR_W
  (docs/protocols/nakazato2024.md §4.5), the participation ratio (Σλ)²/Σλ² of the eigenvalues of
  [W|b]ᵀ[W|b] of the first layer. "First layer" = the first module, in registration order, that
  is an ``nn.Linear`` or a convolution with a trainable weight: one row (w_k, b_k) per hidden
  unit, a convolution's kernels flattened to one row per output channel, W alone without bias.
  The loukas2021 models (``loukas_mlp``, ``loukas_cnn``) start with a frozen identity whose
  trained bias is the only parameter (``trainlens.models.loukas.BiasShift``): it has no weight
  matrix to participate, so their PR_W is that of the layer after it (``body.0``, a Linear, and
  ``features.1``, a Conv2d); for ``mlp`` it is ``body.0``, for ``fort_cnn`` ``features.0``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call, jacrev, vmap

from trainlens.probes.base import InputSet, Options, Row
from trainlens.probes.feature_space import participation_ratio

LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)  # layers with a weight matrix


@dataclass(frozen=True)
class KernelOptions:
    """The experiment's ``kernel:`` block: ``n`` probe inputs (the first n training inputs, a
    fixed set for every checkpoint) and ``chunk_size`` examples per ``vmap`` call (memory:
    each carries a full parameter gradient per output)."""

    n: int = 100
    chunk_size: int = 16


def ntk_diagonal(model: nn.Module, x: torch.Tensor, chunk_size: int = 16) -> torch.Tensor:
    """Θ(x_i, x_i) = Σ_k ‖∇_θ f_k(x_i)‖² over the trainable parameters, shape (N,), float64.

    Eval mode (mode restored); frozen parameters and buffers enter as constants."""
    params = {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}
    frozen = {n: p.detach() for n, p in model.named_parameters() if not p.requires_grad}
    buffers = dict(model.named_buffers())

    def outputs(p: dict[str, torch.Tensor], xi: torch.Tensor) -> torch.Tensor:
        # one example as a batch of one; scalar or K outputs alike become a (K,) vector
        return functional_call(model, ({**p, **frozen}, buffers), (xi.unsqueeze(0),)).reshape(-1)

    def trace(xi: torch.Tensor) -> torch.Tensor:
        jac = jacrev(outputs)(params, xi)  # name -> (K, *shape)
        return sum(g.to(torch.float64).pow(2).sum() for g in jac.values())

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():  # jacrev differentiates on its own; nothing else needs a graph
            return torch.cat([vmap(trace)(part) for part in x.split(chunk_size)])
    finally:
        model.train(was_training)


def first_layer(model: nn.Module) -> tuple[str, nn.Module]:
    """(name, module) of the first Linear or convolution whose weight is trained."""
    for name, module in model.named_modules():
        if isinstance(module, LAYERS) and module.weight.requires_grad:
            return name, module
    raise ValueError("the model has no Linear or convolution layer with a trainable weight")


def layer_matrix(layer: nn.Module) -> torch.Tensor:
    """[W|b]: one row (w_k, b_k) per output unit or channel (a kernel flattened), W alone for
    a layer without bias."""
    weight = layer.weight.detach().flatten(1)
    if layer.bias is None:
        return weight
    return torch.cat([weight, layer.bias.detach().unsqueeze(1)], dim=1)


def weight_participation_ratio(model: nn.Module) -> float:
    """PR_W of the first layer (docs/protocols/nakazato2024.md §4.5): the eigenvalues of
    [W|b]ᵀ[W|b] are the squared singular values of [W|b], taken in float64."""
    _, layer = first_layer(model)
    return participation_ratio(torch.linalg.svdvals(layer_matrix(layer).to(torch.float64)) ** 2)


def kernel_rows(model: nn.Module, x_train: torch.Tensor, options: KernelOptions) -> list[Row]:
    """``ntk_diagonal_mean`` (split ``train``, over the first ``options.n`` training inputs)
    and ``weight_participation_ratio`` (split ``params``) of one member at one checkpoint."""
    x = x_train[:options.n]
    return [{"split": "train", "metric": "ntk_diagonal_mean",
             "value": float(ntk_diagonal(model, x, options.chunk_size).mean())},
            {"split": "params", "metric": "weight_participation_ratio",
             "value": weight_participation_ratio(model)}]


def kernel_probe(model: nn.Module, inputs: Mapping[str, InputSet], options: Options
                 ) -> list[Row]:
    """The ``kernel`` probe, with the experiment's ``kernel:`` settings (``KernelOptions``)."""
    return kernel_rows(model, inputs["train"].x, options.settings)
