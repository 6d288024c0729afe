"""The closed forms of the nakazato2024 two-layer network against autograd
(docs/protocols/nakazato2024.md §4.2)."""

from __future__ import annotations

import pytest
import torch
from torch.func import functional_call, jacrev, vmap

from trainlens.models.two_layer import (
    ACTIVATIONS,
    TwoLayerConfig,
    TwoLayerNet,
    forward,
    hidden,
    init_params,
    weighted_gradient,
)
from trainlens.probes.response import ntk, parameter_gradients


def _net(activation: str, seed: int = 0) -> tuple[dict, TwoLayerNet, torch.Tensor]:
    config = TwoLayerConfig(input_dim=5, width=12, activation=activation)
    params = init_params(config, torch.Generator().manual_seed(seed))
    x = torch.randn(9, 5, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    return params, TwoLayerNet(config, params), x


def _autograd_jacobian(net: TwoLayerNet, x: torch.Tensor) -> torch.Tensor:
    """Per-example ∇_θ f as rows (N, P), in the order a, W, b."""
    named = {k: v.detach() for k, v in net.named_parameters()}
    jac = vmap(jacrev(lambda p, xi: functional_call(net, p, (xi.unsqueeze(0),))[0]),
               in_dims=(None, 0))(named, x)
    return torch.cat([jac[k].flatten(1) for k in ("a", "W", "b")], dim=1)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_batched_forward_equals_the_module(activation):
    params, net, x = _net(activation)
    torch.testing.assert_close(forward(params, x.unsqueeze(0), activation)[0], net(x))


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_closed_form_weighted_gradient_equals_autograd(activation):
    params, net, x = _net(activation)
    weights = torch.randn(9, dtype=torch.float64)
    (weights * net(x)).sum().backward()
    _, h, h_prime = hidden(params, x.unsqueeze(0), activation)
    closed = weighted_gradient(params, x.unsqueeze(0), weights.unsqueeze(0), activation, h,
                               h_prime)
    for name in ("a", "W", "b"):
        torch.testing.assert_close(closed[name][0], getattr(net, name).grad)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_ntk_closed_form_equals_the_gram_of_autograd_jacobians(activation):
    # ReLU included: torch's relu gradient at 0 is 0, the protocol's φ'(0) = 0 convention
    params, net, x = _net(activation)
    jac = _autograd_jacobian(net, x)
    torch.testing.assert_close(ntk(params, x, None, activation), jac @ jac.T)
    grads = parameter_gradients(params, x, activation)
    closed = torch.cat([grads[k].flatten(1) for k in ("a", "W", "b")], dim=1)
    torch.testing.assert_close(closed, jac)


def test_init_follows_the_spec_scales():
    config = TwoLayerConfig(input_dim=8, width=20000)
    params = init_params(config, torch.Generator().manual_seed(3))
    assert abs(params["a"].std().item() - 1.0) < 0.03
    assert abs(params["W"].std().item() - 1.0) < 0.01
    assert abs(params["b"].std().item() - 0.1) < 0.003


def test_unknown_activation_names_the_allowed_ones():
    with pytest.raises(ValueError, match="model.activation must be one of"):
        TwoLayerConfig(activation="gelu")
