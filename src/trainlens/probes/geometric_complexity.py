"""Geometric complexity (dherin2022 §4, "Geometric complexity"): the discrete Dirichlet energy

    GC(f_θ, D) = (1/|D|) Σ_{x∈D} ‖∇ₓ f_θ(x)‖²_F

of the **logit** network f_θ (not the softmax), with the **squared** Frobenius norm and no ½
(docs/protocols/dherin2022.md §7 pitfalls 1-2). For a linear model f(x) = Ax + b it is ‖A‖²_F
exactly; for a ReLU net it is
Σ_i (n_i/|D|)‖A_i‖²_F over the linear cells the data visits.

Two computations, both pure functions of (function or model, batch):

- **exact** (measurement): one backward pass per output k of the batch-summed logit, K in all;
  valid only when examples do not interact, so models are put in eval mode (BatchNorm on running
  statistics, docs/protocols/dherin2022.md §7 pitfall 3);
- **Hutchinson** (penalties, large K): with Rademacher v ∈ {±1}^K, E‖vᵀJ‖² = ‖J‖²_F. One
  projection per example has variance 2 Σ_{k≠l} (JJᵀ)²_kl (``hutchinson_variance``); the batch
  mean of B examples and P projections has that divided by B²P summed over examples. The
  projections must come from their own generator (docs/protocols/dherin2022.md §4 "Random streams":
  seeding them with the
  init seed biased the estimate by +44%).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.func import vjp, vmap

from trainlens.probes.lipschitz import input_gradients_per_output, input_jacobians

LogitFunction = Callable[[torch.Tensor], torch.Tensor]


def _model_function(model: nn.Module) -> LogitFunction:
    return lambda x: model(x)


def _as_matrix(z: torch.Tensor) -> torch.Tensor:
    """Outputs as (N, K): a scalar-output model (N,) is K = 1 (regression,
    docs/protocols/dherin2022.md §4)."""
    return z.unsqueeze(-1) if z.dim() == 1 else z.flatten(1)


def hutchinson_sq_norms(f: LogitFunction, x: torch.Tensor,
                        projections: torch.Tensor | Callable[[torch.Size], torch.Tensor]
                        ) -> torch.Tensor:
    """Per-example unbiased estimates of ‖∇ₓ f(x_i)‖²_F from Rademacher ``projections``
    (P, N, K), or a function of the output shape (N, K) that draws them: mean over p of
    ‖v_{p,i}ᵀ J_i‖², one VJP per projection. Differentiable in the parameters of ``f`` (double
    backprop), which is what the explicit GC penalty needs."""
    z, pullback = vjp(lambda inputs: _as_matrix(f(inputs)), x)
    signs = projections if isinstance(projections, torch.Tensor) else projections(z.shape)
    (projected,) = vmap(pullback)(signs.to(z.dtype))  # (P, N, *x.shape[1:])
    return projected.pow(2).flatten(2).sum(2).mean(0)


def rademacher(shape: tuple[int, ...], generator: torch.Generator, dtype: torch.dtype,
               device: torch.device | str = "cpu") -> torch.Tensor:
    """±1 entries with probability ½ each, drawn from ``generator`` (on the CPU, then moved, so
    a run's projections are the same on every device)."""
    bits = torch.randint(0, 2, shape, generator=generator)
    return (2 * bits - 1).to(device=device, dtype=dtype)


class _EvalMode:
    """Put a model in eval mode for a measurement and restore its mode afterwards."""

    def __init__(self, model: nn.Module) -> None:
        self.model, self.was_training = model, model.training

    def __enter__(self) -> nn.Module:
        return self.model.eval()

    def __exit__(self, *exc: object) -> None:
        self.model.train(self.was_training)


def per_example_geometric_complexity(model: nn.Module, x: torch.Tensor,
                                     chunk_size: int = 1024) -> torch.Tensor:
    """‖∇ₓ f(x_i)‖²_F for every example, shape (N,), in eval mode; its mean is GC. This is the
    ``geometric_complexity`` probe of the measure stage (``probes: [geometric_complexity]``).
    A measurement: detached from the parameters (penalties use ``hutchinson_sq_norms``), taken
    ``chunk_size`` examples at a time, one backward pass per output
    (``input_gradients_per_output``)."""
    def sq_norms(part: torch.Tensor) -> torch.Tensor:
        return sum(g.pow(2).flatten(1).sum(1) for g in input_gradients_per_output(model, part))

    return torch.cat([sq_norms(part) for part in x.split(chunk_size)])


def geometric_complexity(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Exact GC of ``model``'s logits over the batch ``x`` (dherin2022 §4): mean over x of the
    squared Frobenius norm of the input Jacobian. Eval mode, one batched backward pass per output.
    A 0-d tensor."""
    return per_example_geometric_complexity(model, x).mean()


def geometric_complexity_hutchinson(model: nn.Module, x: torch.Tensor, projections: int,
                                    generator: torch.Generator,
                                    create_graph: bool = False) -> torch.Tensor:
    """Hutchinson estimate of GC with ``projections`` Rademacher vectors per example, drawn from
    ``generator`` (give it its own stream). Unbiased; its variance is ``hutchinson_variance``.
    Without ``create_graph`` it is a measurement (eval mode, like the exact GC); with it, the
    result is differentiable in the parameters (a training penalty) and the model keeps its mode,
    since a penalty acts on the network being trained."""
    if projections < 1:
        raise ValueError(f"projections must be >= 1, got {projections}")

    def draw(shape: torch.Size) -> torch.Tensor:
        return rademacher((projections, *shape), generator, x.dtype, x.device)

    def estimate() -> torch.Tensor:
        return hutchinson_sq_norms(_model_function(model), x.detach(), draw).mean()

    with torch.enable_grad():
        if create_graph:
            return estimate()
        with _EvalMode(model):
            return estimate().detach()


def hutchinson_variance(model: nn.Module, x: torch.Tensor, projections: int) -> torch.Tensor:
    """Exact variance of ``geometric_complexity_hutchinson`` over the Rademacher draws:
    (1/(N²P)) Σ_i 2 Σ_{k≠l} (J_i J_iᵀ)²_kl, from the exact Jacobians (eval mode)."""
    jac = input_jacobians(model, x).flatten(2)  # (N, K, d)
    gram = jac @ jac.transpose(1, 2)  # (N, K, K)
    off_diagonal = gram.pow(2).sum((1, 2)) - torch.diagonal(gram, dim1=1, dim2=2).pow(2).sum(1)
    return 2 * off_diagonal.sum() / (len(x) ** 2 * projections)
