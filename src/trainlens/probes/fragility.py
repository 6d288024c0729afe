"""nakazato2024 fragility measures (docs/protocols/nakazato2024.md §4.6; the paper's own measure is
unknown, so all of these).

Input side: GC = mean_x ‖∇_x f‖² (the Dirichlet energy of dherin2022), L̂ = max_x ‖∇_x f‖ and the
first-order distance to the decision boundary min_i |f(x_i)|/‖∇_x f(x_i)‖. Parameter side:
S_θ(σ) = E_ε mean_x [f(x; θ + σε) − f(x; θ)]², ε ~ N(0, I). Ablation: the largest share of the
output power carried by one neuron, max_k mean_x (a_k φ(z_k)/√m)² / mean_x f². Closed forms for
the two-layer network; parameters are one member's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import nn

from trainlens.models.two_layer import Params, forward, hidden
from trainlens.probes.base import InputSet, Options, Row, metric_rows, stacked_params
from trainlens.seeds import RunStreams


def input_gradients(params: Params, x: torch.Tensor, activation: str) -> torch.Tensor:
    """∇_x f(x_i) = m^{-1/2} Σ_k a_k φ'(z_k) w_k for every input: (N, d)."""
    _, h, h_prime = hidden(params, x.unsqueeze(0), activation)
    m = h.shape[-1]
    return (h_prime[0] * params["a"][0]) @ params["W"][0] / math.sqrt(m)


def parameter_sensitivity(params: Params, x: torch.Tensor, activation: str, sigma: float,
                          draws: int, generator: torch.Generator) -> float:
    """S_θ(σ), averaged over ``draws`` perturbations from ``generator`` (its own stream)."""
    f = forward(params, x.unsqueeze(0), activation)[0]
    noisy = {k: v + sigma * torch.randn((draws, *v.shape[1:]), generator=generator,
                                        dtype=v.dtype).to(v.device)
             for k, v in params.items()}
    f_noisy = forward(noisy, x.unsqueeze(0).expand(draws, -1, -1), activation)
    return float(((f_noisy - f) ** 2).mean())


def ablation_share(params: Params, x: torch.Tensor, activation: str) -> float:
    """max_k mean_x (a_k φ(z_k)/√m)² / mean_x f²."""
    _, h, _ = hidden(params, x.unsqueeze(0), activation)
    m = h.shape[-1]
    contributions = h[0] * params["a"][0] / math.sqrt(m)  # (N, m)
    f = contributions.sum(1)
    return float((contributions**2).mean(0).max() / (f**2).mean())


def fragility(params: Params, x: torch.Tensor, activation: str, generator: torch.Generator,
              sigma: float = 0.01, draws: int = 8) -> dict[str, float]:
    """Every measure of docs/protocols/nakazato2024.md §4.6 for one member at one checkpoint."""
    gradient_norms = torch.linalg.norm(input_gradients(params, x, activation), dim=1)
    f = forward(params, x.unsqueeze(0), activation)[0]
    return {"geometric_complexity": float((gradient_norms**2).mean()),
            "lipschitz_max": float(gradient_norms.max()),
            "boundary_distance": float((f.abs() / gradient_norms.clamp_min(1e-300)).min()),
            "parameter_sensitivity": parameter_sensitivity(params, x, activation, sigma, draws,
                                                           generator),
            "ablation_share": ablation_share(params, x, activation)}


def fragility_probe(model: nn.Module, inputs: Mapping[str, InputSet], options: Options
                    ) -> list[Row]:
    """The ``fragility`` probe of a ``TwoLayerNet`` on the training inputs (split ``train``); the
    perturbations come from the run's own "probes" stream: the same draws at every checkpoint."""
    return metric_rows(fragility(stacked_params(model), inputs["train"].x, model.activation,
                                 RunStreams(options.seed).torch("probes")), "train")
