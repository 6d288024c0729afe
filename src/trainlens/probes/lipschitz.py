"""Local Lipschitz constants near the data: per-example input-gradient norms (loukas2021 §4.2).

λ(x; θ) = ‖∇_x z(x; θ)‖ is the Lipschitz constant of the linear region of a ReLU network that
contains x (for a scalar output the Frobenius norm of the 1×d Jacobian is its 2-norm). For a
vector output it returns the Frobenius norm of the K×d input Jacobian, whose square averaged over
the data is dherin2022's geometric complexity.
"""

from __future__ import annotations

import torch
from torch import nn


def input_jacobians(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Per-example input Jacobians ∂z_k(x_i)/∂x_i, shape (N, K, *x.shape[1:]) (K = 1 for scalar
    outputs).

    One batched backward pass per output (``is_grads_batched``), never a loop over examples; this
    relies on the examples not interacting, so the model must not mix the batch (no BatchNorm in
    train mode): it is put in eval mode for the call and restored afterwards.
    """
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            z = model(x)
            z = z.unsqueeze(-1) if z.dim() == 1 else z.flatten(1)
            n_outputs = z.shape[1]
            selectors = torch.eye(n_outputs, dtype=z.dtype, device=z.device)
            selectors = selectors.unsqueeze(1).expand(n_outputs, *z.shape)  # (K, N, K)
            (jac,) = torch.autograd.grad(z, x, grad_outputs=selectors, is_grads_batched=True)
    finally:
        model.train(was_training)
    return jac.transpose(0, 1)  # (N, K, ...)


def input_gradient_norms(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Per-example ‖∇_x f(x)‖: the 2-norm for scalar outputs, the Frobenius norm of the input
    Jacobian for vector outputs. Shape (N,). Usable on any model without batch-coupling layers.
    """
    jac = input_jacobians(model, x)
    return jac.flatten(1).norm(dim=1)
