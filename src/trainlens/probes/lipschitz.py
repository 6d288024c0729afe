"""Local Lipschitz constants near the data: per-example input-gradient norms (loukas2021 §4.2).

λ(x; θ) = ‖∇_x z(x; θ)‖ is the Lipschitz constant of the linear region of a ReLU network that
contains x (for a scalar output the Frobenius norm of the 1×d Jacobian is its 2-norm). For a
vector output it returns the Frobenius norm of the K×d input Jacobian, whose square averaged over
the data is dherin2022's geometric complexity.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn


def input_gradients_per_output(model: nn.Module, x: torch.Tensor) -> Iterator[torch.Tensor]:
    """For each output k, the per-example input gradients ∂z_k(x_i)/∂x_i, shape (N, *x.shape[1:])
    (one output for a scalar model), in eval mode (mode restored after the last one).

    One backward pass of the batch-summed output k per k, never a loop over examples; this relies
    on the examples not interacting, so the model must not mix the batch (no BatchNorm in train
    mode). Plain ``torch.autograd.grad`` on purpose: ``torch.func`` and ``is_grads_batched`` cost
    a measure job 3.5 s and 0.9 s of imports (torch._dynamo, sympy), and on the CPU K passes are
    as fast as one batched pass (the GC benchmark's MLP: 36 ms against 50 ms).
    """
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            z = model(x)
            z = z.unsqueeze(-1) if z.dim() == 1 else z.flatten(1)
            n_outputs = z.shape[1]
            for k in range(n_outputs):
                (gradient,) = torch.autograd.grad(z[:, k].sum(), x, retain_graph=k + 1 < n_outputs)
                yield gradient
    finally:
        model.train(was_training)


def input_jacobians(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Per-example input Jacobians ∂z_k(x_i)/∂x_i, shape (N, K, *x.shape[1:]) (K = 1 for scalar
    outputs), from ``input_gradients_per_output`` (eval mode, examples must not interact)."""
    return torch.stack(list(input_gradients_per_output(model, x)), dim=1)


def input_gradient_norms(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Per-example ‖∇_x f(x)‖: the 2-norm for scalar outputs, the Frobenius norm of the input
    Jacobian for vector outputs. Shape (N,). Usable on any model without batch-coupling layers.
    """
    jac = input_jacobians(model, x)
    return jac.flatten(1).norm(dim=1)
