"""nakazato2024 training response (docs/protocols/nakazato2024.md §4.1-4.2) of the two-layer
network, in closed form.

R_t(x_j | x_i) = f(x_j; θ_t − η_p ∇_θ ℓ_i) − f(x_j; θ_t) is a virtual one-step probe (θ_t is not
changed). To first order in η_p it factorises as R ≈ −η_p ℓ'_i Θ_t(x_j, x_i), with the empirical
NTK Θ(x, x') = ∇_θ f(x)·∇_θ f(x') = m^{-1} Σ_k [φ(z_k)φ(z'_k) + a_k² φ'(z_k)φ'(z'_k)(x·x' + 1)].
Matrices are indexed ``[i, j]`` = (example trained on, example measured). Parameters are one
member's (leading axis of size 1, as ``models.two_layer`` stacks them); compute in float64
(docs/protocols/nakazato2024.md §4.7: a finite step at η_p = 1e-3 cancels badly in float32).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import nn

from trainlens.losses import CLOSED_FORM_LOSSES, LOSSES, Loss
from trainlens.models.two_layer import Params, forward, hidden
from trainlens.probes.base import InputSet, Options, Row, metric_rows, stacked_params

LOSS_NAMES = CLOSED_FORM_LOSSES  # the losses of the two-layer network, from the one registry
ETA_PROBES = (1e-2, 1e-3, 1e-4)  # docs/protocols/nakazato2024.md §3 E2
ETA_SCATTER = 1e-3  # the η_p of C5's threshold, whose pairs figR02 scatters


def _loss(loss: str) -> Loss:
    if loss not in LOSS_NAMES:
        raise ValueError(f"loss must be one of {LOSS_NAMES}, got {loss!r}")
    return LOSSES[loss]


def loss_value(f: torch.Tensor, y: torch.Tensor, loss: str) -> torch.Tensor:
    """ℓ per example (``trainlens.losses.LOSSES[loss].value``)."""
    return _loss(loss).value(f, y)


def loss_derivative(f: torch.Tensor, y: torch.Tensor, loss: str) -> torch.Tensor:
    """ℓ' = ∂ℓ/∂f per example (``trainlens.losses.LOSSES[loss].dz``): −y σ(−yf) for logistic,
    f − y for MSE."""
    return _loss(loss).dz(f, y)


def parameter_gradients(params: Params, x: torch.Tensor, activation: str) -> Params:
    """Per-example ∇_θ f(x_i) in closed form: a (N, m), W (N, m, d), b (N, m)."""
    _, h, h_prime = hidden(params, x.unsqueeze(0), activation)
    h, h_prime = h[0], h_prime[0]
    scale = 1.0 / math.sqrt(h.shape[-1])
    dz = h_prime * params["a"] * scale  # ∂f/∂z_k = a_k φ'(z_k)/√m
    return {"a": h * scale, "W": dz.unsqueeze(2) * x.unsqueeze(1), "b": dz}


def ntk(params: Params, x: torch.Tensor, x2: torch.Tensor | None, activation: str
        ) -> torch.Tensor:
    """Empirical NTK Θ(x_i, x2_j) by the closed form of docs/protocols/nakazato2024.md §4.2: (N,
    N2)."""
    x2 = x if x2 is None else x2
    _, h, hp = hidden(params, x.unsqueeze(0), activation)
    _, h2, hp2 = hidden(params, x2.unsqueeze(0), activation)
    m = h.shape[-1]
    a2 = params["a"][0] ** 2
    return (h[0] @ h2[0].T + ((hp[0] * a2) @ hp2[0].T) * (x @ x2.T + 1)) / m


def normalized_kernel(theta: torch.Tensor) -> torch.Tensor:
    """K̂(x, x') = Θ(x, x')/√(Θ(x, x) Θ(x', x')) of a square NTK matrix
    (docs/protocols/nakazato2024.md §4.2)."""
    diagonal = torch.sqrt(torch.diagonal(theta))
    return theta / (diagonal[:, None] * diagonal[None, :])


def first_order_response(params: Params, x: torch.Tensor, y: torch.Tensor, loss: str,
                         activation: str, eta_p: float) -> torch.Tensor:
    """R[i, j] ≈ −η_p ℓ'_i Θ(x_j, x_i) (docs/protocols/nakazato2024.md §4.2, exact as η_p → 0)."""
    f = forward(params, x.unsqueeze(0), activation)[0]
    return -eta_p * loss_derivative(f, y, loss)[:, None] * ntk(params, x, None, activation)


def finite_step_response(params: Params, x: torch.Tensor, y: torch.Tensor, loss: str,
                         activation: str, eta_p: float) -> torch.Tensor:
    """R[i, j] = f(x_j; θ − η_p ∇ℓ_i) − f(x_j; θ) (docs/protocols/nakazato2024.md §4.1): one
    virtual step per example i,
    all N of them evaluated together as an ensemble of stepped copies of θ."""
    n = x.shape[0]
    f = forward(params, x.unsqueeze(0), activation)[0]
    step = eta_p * loss_derivative(f, y, loss)  # ∇_θ ℓ_i = ℓ'_i ∇_θ f_i
    grads = parameter_gradients(params, x, activation)
    stepped = {k: params[k] - step.view(-1, *[1] * (g.dim() - 1)) * g for k, g in grads.items()}
    return forward(stepped, x.unsqueeze(0).expand(n, -1, -1), activation) - f[None, :]


def _off_diagonal(matrix: torch.Tensor) -> torch.Tensor:
    mask = ~torch.eye(matrix.shape[0], dtype=torch.bool, device=matrix.device)
    return matrix[mask]


def response_factors(params: Params, x: torch.Tensor, y: torch.Tensor, loss: str,
                     activation: str) -> dict[str, float]:
    """The factors of docs/protocols/nakazato2024.md §4.2-4.3, each an off-diagonal mean over
    training pairs.

    ``response_mean`` Ā = mean_{i≠j} |R(x_j|x_i)|/η_p (first order; C5 checks it against the
    finite step); ``error_factor`` ē = mean_i |ℓ'_i|; ``ntk_offdiag`` and ``khat_offdiag`` the
    mean Θ and K̂. Pitfall 2 keeps the other normalisations under their own names:
    ``response_per_error`` = mean |Θ| (R divided by ℓ'), ``loss_response`` = mean |ℓ'_j R_ij|/η_p
    (Fort's loss change, first order).
    """
    f = forward(params, x.unsqueeze(0), activation)[0]
    lp = loss_derivative(f, y, loss)
    theta = ntk(params, x, None, activation)
    response = lp[:, None] * theta  # |R[i, j]|/η_p = |ℓ'_i Θ_ij|
    values = {
        "train_loss": loss_value(f, y, loss).mean(),
        "train_accuracy": ((f * y) > 0).to(f.dtype).mean(),
        "response_mean": _off_diagonal(response.abs()).mean(),
        "error_factor": lp.abs().mean(),
        "ntk_offdiag": _off_diagonal(theta).mean(),
        "ntk_diag": torch.diagonal(theta).mean(),
        "khat_offdiag": _off_diagonal(normalized_kernel(theta)).mean(),
        "response_per_error": _off_diagonal(theta.abs()).mean(),
        "loss_response": _off_diagonal((response * lp[None, :]).abs()).mean(),
    }
    return {k: float(v) for k, v in values.items()}


def relative_error(finite: torch.Tensor, first_order: torch.Tensor) -> float:
    """‖R_finite − R_first‖₂ / ‖R_finite‖₂ over all pairs (docs/protocols/nakazato2024.md §6 C5)."""
    return float(torch.linalg.norm(finite - first_order) / torch.linalg.norm(finite))


def response_probe(model: nn.Module, inputs: Mapping[str, InputSet], options: Options
                   ) -> list[Row]:
    """The ``response`` probe: :func:`response_factors` on the training set (split ``train``)."""
    train = inputs["train"]
    return metric_rows(response_factors(stacked_params(model), train.x, train.y, options.loss,
                                        model.activation), "train")


def factorization_probe(model: nn.Module, inputs: Mapping[str, InputSet], options: Options
                        ) -> list[Row]:
    """The ``factorization`` probe (E2, docs/protocols/nakazato2024.md §6 C5): finite-step vs
    first-order R at each η_p, the relative error as split ``eta_p=<η_p>`` and, at
    ``ETA_SCATTER``, every pair (R/η_p) as split ``pair=<i>,<j>``."""
    params, x, y = stacked_params(model), inputs["train"].x, inputs["train"].y
    rows = []
    for eta in ETA_PROBES:
        finite = finite_step_response(params, x, y, options.loss, model.activation, eta)
        first = first_order_response(params, x, y, options.loss, model.activation, eta)
        rows.append({"split": f"eta_p={eta:g}", "metric": "response_relative_error",
                     "value": relative_error(finite, first)})
        if eta == ETA_SCATTER:
            for i in range(x.shape[0]):
                for j in range(x.shape[0]):
                    if i != j:
                        split = f"pair={i},{j}"
                        rows += [{"split": split, "metric": "response_finite",
                                  "value": float(finite[i, j]) / eta},
                                 {"split": split, "metric": "response_first_order",
                                  "value": float(first[i, j]) / eta}]
    return rows
