"""Stiffness (fort2019 §4): how a gradient step on one example changes the loss on another.

With g_i = ∇_W L(f_W(X_i), y_i) the per-example **loss** gradient over all trainable parameters
(the raw gradient, no optimizer state), a step W → W − ε g_1 changes the loss on X_2 by
−ε g_1·g_2 + O(ε²). From the Gram matrix K = G Gᵀ of the stacked gradients:

    S_cos(i, j) = K_ij / √(K_ii K_jj),        S_sign(i, j) = sign(K_ij).

K is accumulated in float64 and computed without a Python loop over examples:

- **ghost Gram** (exact) when every trainable parameter sits in an ``nn.Linear`` that sees 2-D
  inputs once per forward: K = Σ_l (Δ_l Δ_lᵀ) ∘ (A_l A_lᵀ + 1) with A_l the layer's inputs,
  Δ_l the gradients of the summed loss at its outputs and +1 for the bias (never forms N × P);
- otherwise per-example gradients by ``vmap(grad)`` in chunks, Gram blocks accumulated chunk by
  chunk (docs/protocols/fort2019.md §7 pitfall 3: the batched activations of a large chunk exhaust
  memory).

Self-pairs: the matrices keep their diagonal (a gradient is perfectly stiff with itself, S = 1);
the class and distance helpers drop it for a set paired with itself (tt, vv;
docs/protocols/fort2019.md §4 "~eye"),
and keep every pair for two different sets (tv).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call, grad, vmap

PerExampleLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Stiffness:
    """Stiffness between the examples of set 1 (rows) and set 2 (columns), float64.

    ``same_set`` is true when set 2 is set 1 (the diagonal then holds self-pairs); ``gram`` is
    the raw g_i·g_j and ``norms_sq`` the ‖g‖² of the rows and the columns."""

    cos: torch.Tensor
    sign: torch.Tensor
    gram: torch.Tensor
    norms_sq: tuple[torch.Tensor, torch.Tensor]
    same_set: bool


def _linear_layers(model: nn.Module) -> list[nn.Linear] | None:
    """The model's Linear layers when they hold every trainable parameter, else None."""
    layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
    covered = {id(p) for layer in layers for p in layer.parameters() if p.requires_grad}
    trainable = [p for p in model.parameters() if p.requires_grad]
    return layers if trainable and all(id(p) in covered for p in trainable) else None


def _ghost_gram(model: nn.Module, layers: list[nn.Linear], x: torch.Tensor, y: torch.Tensor,
                loss_fn: PerExampleLoss) -> torch.Tensor | None:
    """K = Σ_l (Δ_l Δ_lᵀ) ∘ (A_l A_lᵀ + 1[bias]) in float64, or None if a layer sees non-2-D
    inputs or runs more than once per forward (then a row of its input is not one example)."""
    inputs: dict[nn.Linear, list[torch.Tensor]] = {layer: [] for layer in layers}
    outputs: dict[nn.Linear, list[torch.Tensor]] = {layer: [] for layer in layers}

    def keep(layer: nn.Module, args: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        inputs[layer].append(args[0].detach())
        out.retain_grad()
        outputs[layer].append(out)

    handles = [layer.register_forward_hook(keep) for layer in layers]
    try:
        losses = loss_fn(model(x), y)
    finally:
        for handle in handles:
            handle.remove()
    if any(len(v) != 1 or v[0].dim() != 2 for v in inputs.values()):
        return None
    # a sum-reduced loss: output gradients are per-example gradients (docs/protocols/fort2019.md §7
    # pitfall 7)
    losses.sum().backward(inputs=[outputs[layer][0] for layer in layers])
    gram = torch.zeros(len(x), len(x), dtype=torch.float64, device=x.device)
    for layer in layers:
        a = inputs[layer][0].to(torch.float64)
        delta = outputs[layer][0].grad.to(torch.float64)
        activations = a @ a.T
        if layer.bias is not None and layer.bias.requires_grad:
            activations += 1.0
        if layer.weight.requires_grad:
            gram += (delta @ delta.T) * activations
        elif layer.bias is not None and layer.bias.requires_grad:
            gram += delta @ delta.T
    return gram


def per_example_gradients(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                          loss_fn: PerExampleLoss) -> torch.Tensor:
    """G (N × P): the flattened loss gradients of each example over all trainable parameters,
    by ``vmap(grad)`` of a one-example ``functional_call`` (no loop over examples)."""
    params = {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}
    buffers = dict(model.named_buffers())

    def one(p: dict[str, torch.Tensor], xi: torch.Tensor, yi: torch.Tensor) -> torch.Tensor:
        z = functional_call(model, (p, buffers), (xi.unsqueeze(0),))
        return loss_fn(z, yi.unsqueeze(0)).sum()

    grads = vmap(grad(one), in_dims=(None, 0, 0))(params, x, y)
    return torch.cat([g.flatten(1) for g in grads.values()], dim=1)


def _chunked_gram(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: PerExampleLoss,
                  chunk_size: int, max_cached_bytes: float) -> torch.Tensor:
    """K in float64 from per-example gradient chunks: every chunk is kept when N × P fits in
    ``max_cached_bytes``, otherwise chunks are recomputed for each block (memory over time)."""
    n = len(x)
    starts = list(range(0, n, chunk_size))
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    cache: dict[int, torch.Tensor] | None = {} if n * n_params * 8 <= max_cached_bytes else None

    def block(start: int) -> torch.Tensor:
        if cache is not None and start in cache:
            return cache[start]
        end = start + chunk_size
        g = per_example_gradients(model, x[start:end], y[start:end], loss_fn).to(torch.float64)
        if cache is not None:
            cache[start] = g
        return g

    gram = torch.empty(n, n, dtype=torch.float64, device=x.device)
    for i, row in enumerate(starts):
        g_row = block(row)
        for col in starts[:i + 1]:
            part = g_row @ block(col).T
            gram[row:row + chunk_size, col:col + chunk_size] = part
            gram[col:col + chunk_size, row:row + chunk_size] = part.T
    return gram


def gradient_gram(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: PerExampleLoss,
                  chunk_size: int = 64, max_cached_bytes: float = 2e9,
                  method: str = "auto") -> torch.Tensor:
    """K_ij = g_i·g_j in float64 for all pairs of (x, y): the ghost Gram for all-Linear models
    (``method`` "auto" or "ghost"), chunked ``vmap(grad)`` otherwise (or with "vmap"). The model
    is put in eval mode (dropout off, BatchNorm on running statistics: docs/protocols/fort2019.md
    §7 pitfall 2) and its
    mode restored."""
    if method not in ("auto", "ghost", "vmap"):
        raise ValueError(f"method must be 'auto', 'ghost' or 'vmap', got {method!r}")
    was_training = model.training
    model.eval()
    try:
        layers = _linear_layers(model) if method != "vmap" else None
        if layers is not None:
            with torch.enable_grad():
                gram = _ghost_gram(model, layers, x, y, loss_fn)
            if gram is not None:  # BLAS products are symmetric only up to rounding
                return (gram + gram.T) / 2
        if method == "ghost":
            raise ValueError("method='ghost' needs a model whose trainable parameters all sit "
                             "in nn.Linear layers applied once to 2-D inputs")
        return _chunked_gram(model, x, y, loss_fn, chunk_size, max_cached_bytes)
    finally:
        model.train(was_training)


def stiffness(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: PerExampleLoss,
              x2: torch.Tensor | None = None, y2: torch.Tensor | None = None,
              **gram_options: object) -> Stiffness:
    """Cosine and sign stiffness (fort2019 §4) between the per-example loss gradients of
    (x, y) and themselves, or (x2, y2) when given (train-val, a rectangular N1 × N2 matrix).

    ``loss_fn(outputs, targets)`` returns per-example losses (no reduction), e.g.
    ``trainlens.losses.LOSSES["cross_entropy"].value``. A zero gradient has no
    direction: its cosine entries are NaN, its sign entries 0."""
    same_set = x2 is None
    if same_set != (y2 is None):
        raise ValueError("give both x2 and y2 (train-val stiffness) or neither (train-train)")
    xs = x if same_set else torch.cat([x, x2])
    ys = y if same_set else torch.cat([y, y2])
    gram = gradient_gram(model, xs, ys, loss_fn, **gram_options)
    norms_sq = gram.diagonal().clone()
    n1 = len(x)
    rows, cols = (slice(None), slice(None)) if same_set else (slice(0, n1), slice(n1, None))
    block = gram[rows, cols]
    row_sq, col_sq = norms_sq[rows], norms_sq[cols]
    scale = (row_sq.unsqueeze(1) * col_sq.unsqueeze(0)).sqrt()
    cos = torch.where(scale > 0, block / scale, torch.full_like(block, float("nan")))
    if same_set:  # exactly 1 on the diagonal, not 1 ± rounding
        cos.diagonal().copy_(torch.where(norms_sq > 0, 1.0, float("nan")))
    return Stiffness(cos.clamp(-1, 1), torch.sign(block), block, (row_sq, col_sq), same_set)
