"""nakazato2024 feature-space measures of the two-layer network (docs/protocols/nakazato2024.md
§4.5, reconstructed).

PR_W and PR_H are participation ratios (Σλ)²/Σλ² of [W|b]ᵀ[W|b] and of the covariance of the
hidden activations over the training inputs; N_eff = exp(entropy) of p_k ∝ |a_k|‖w_k‖; vanishing
neurons have |a_k|‖w_k‖ < 10⁻³ max_k; duplicated neurons have a (w_k, b_k) cosine > 0.99 with
another neuron (after Chen, Kunin, Yamamura & Ganguli 2023). Parameters are one member's.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from trainlens.models.two_layer import Params, hidden
from trainlens.probes.base import InputSet, Options, Row, metric_rows, stacked_params


def participation_ratio(eigenvalues: torch.Tensor) -> float:
    """(Σλ)²/Σλ²: 1 for a rank-one spectrum, n for n equal eigenvalues."""
    eigenvalues = eigenvalues.clamp_min(0)
    return float(eigenvalues.sum() ** 2 / (eigenvalues**2).sum())


def weight_matrix(params: Params) -> torch.Tensor:
    """[W|b]: one row (w_k, b_k) per hidden neuron, m × (d + 1)."""
    return torch.cat([params["W"][0], params["b"][0].unsqueeze(1)], dim=1)


def weight_participation_ratio(params: Params) -> float:
    """PR_W: eigenvalues of [W|b]ᵀ[W|b] are the squared singular values of [W|b]."""
    return participation_ratio(torch.linalg.svdvals(weight_matrix(params)) ** 2)


def hidden_participation_ratio(params: Params, x: torch.Tensor, activation: str) -> float:
    """PR_H of the m × m covariance of φ(z) over the inputs ``x``."""
    _, h, _ = hidden(params, x.unsqueeze(0), activation)
    centred = h[0] - h[0].mean(0)
    return participation_ratio(torch.linalg.svdvals(centred) ** 2)


def neuron_strengths(params: Params) -> torch.Tensor:
    """|a_k|·‖w_k‖ per neuron."""
    return params["a"][0].abs() * torch.linalg.norm(params["W"][0], dim=1)


def effective_neurons(params: Params) -> float:
    """N_eff = exp(−Σ p_k log p_k), p_k ∝ |a_k|‖w_k‖ (0 log 0 = 0)."""
    p = neuron_strengths(params)
    p = p / p.sum()
    return float(torch.exp(-torch.special.xlogy(p, p).sum()))


def vanishing_fraction(params: Params, relative: float = 1e-3) -> float:
    strengths = neuron_strengths(params)
    return float((strengths < relative * strengths.max()).to(strengths.dtype).mean())


def duplicate_fraction(params: Params, cosine: float = 0.99) -> float:
    """Fraction of neurons whose (w_k, b_k) has cosine > ``cosine`` with another neuron's."""
    rows = weight_matrix(params)
    unit = rows / torch.linalg.norm(rows, dim=1, keepdim=True).clamp_min(1e-300)
    similarity = unit @ unit.T
    similarity.fill_diagonal_(-1.0)
    return float((similarity > cosine).any(1).to(rows.dtype).mean())


def feature_space(params: Params, x: torch.Tensor, activation: str) -> dict[str, float]:
    """Every measure of docs/protocols/nakazato2024.md §4.5 for one member at one checkpoint."""
    return {"pr_weights": weight_participation_ratio(params),
            "pr_hidden": hidden_participation_ratio(params, x, activation),
            "effective_neurons": effective_neurons(params),
            "vanishing_fraction": vanishing_fraction(params),
            "duplicate_fraction": duplicate_fraction(params)}


def feature_space_probe(model: nn.Module, inputs: Mapping[str, InputSet], options: Options
                        ) -> list[Row]:
    """The ``feature_space`` probe of a ``TwoLayerNet`` on the training inputs (split
    ``train``)."""
    return metric_rows(feature_space(stacked_params(model), inputs["train"].x, model.activation),
                       "train")
