"""Analytic cases of the nakazato2024 feature-space (§4.5) and fragility (§4.6) measures."""

from __future__ import annotations

import math

import pytest
import torch
from torch.func import vmap

from trainlens.models.two_layer import TwoLayerConfig, TwoLayerNet, init_params
from trainlens.probes.feature_space import (
    duplicate_fraction,
    effective_neurons,
    participation_ratio,
    vanishing_fraction,
    weight_participation_ratio,
)
from trainlens.probes.fragility import ablation_share, fragility, input_gradients


def _params(a, w, b) -> dict[str, torch.Tensor]:
    t = lambda v: torch.as_tensor(v, dtype=torch.float64).unsqueeze(0)  # noqa: E731
    return {"a": t(a), "W": t(w), "b": t(b)}


def test_participation_ratio_counts_equal_eigenvalues():
    assert participation_ratio(torch.ones(5, dtype=torch.float64)) == pytest.approx(5.0)
    assert participation_ratio(torch.tensor([3.0, 0, 0], dtype=torch.float64)) == 1.0


def test_weight_participation_ratio_of_orthogonal_rows_is_their_number():
    params = _params([1.0, 1.0, 1.0], [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]], [0.0, 0.0, 1.0])
    assert weight_participation_ratio(params) == pytest.approx(3.0)  # e1, e2, bias axis


def test_neuron_counts_on_constructed_networks():
    equal = _params([2.0, -2.0, 2.0, 2.0], [[1.0, 0], [0, 1.0], [-1.0, 0], [0, -1.0]], [0.0] * 4)
    assert effective_neurons(equal) == pytest.approx(4.0)
    assert duplicate_fraction(equal) == 0.0
    assert vanishing_fraction(equal) == 0.0
    # neuron 2 copies neuron 0 (cosine 1); neuron 3 vanishes (|a|·‖w‖ = 1e-6 · max)
    collapsed = _params([1.0, 1.0, 3.0, 1e-6], [[1.0, 0], [0, 1.0], [2.0, 0], [0, -1.0]],
                        [0.0] * 4)
    assert duplicate_fraction(collapsed) == pytest.approx(0.5)
    assert vanishing_fraction(collapsed) == pytest.approx(0.25)


def test_linear_network_gc_is_the_squared_norm_of_its_matrix():
    """A linear-activation net is f(x) = A·x + c with A = a·W/√m: GC = ‖A‖², L̂ = ‖A‖."""
    config = TwoLayerConfig(input_dim=6, width=10, activation="linear")
    params = init_params(config, torch.Generator().manual_seed(1))
    x = torch.randn(20, 6, dtype=torch.float64)
    matrix = params["a"][0] @ params["W"][0] / math.sqrt(10)
    values = fragility(params, x, "linear", torch.Generator().manual_seed(0))
    assert values["geometric_complexity"] == pytest.approx(float(matrix.norm() ** 2))
    assert values["lipschitz_max"] == pytest.approx(float(matrix.norm()))


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_input_gradients_match_autograd(activation):
    config = TwoLayerConfig(input_dim=4, width=9, activation=activation)
    params = init_params(config, torch.Generator().manual_seed(2))
    net = TwoLayerNet(config, params)
    x = torch.randn(7, 4, dtype=torch.float64)
    expected = vmap(torch.func.grad(lambda xi: net(xi.unsqueeze(0))[0]))(x)
    torch.testing.assert_close(input_gradients(params, x, activation), expected)


def test_one_neuron_carries_the_whole_output():
    params = _params([1.5], [[1.0, 2.0]], [0.3])
    x = torch.randn(5, 2, dtype=torch.float64)
    assert ablation_share(params, x, "tanh") == pytest.approx(1.0)


def test_parameter_sensitivity_is_quadratic_in_sigma_for_small_sigma():
    config = TwoLayerConfig(input_dim=4, width=9, activation="tanh")
    params = init_params(config, torch.Generator().manual_seed(2))
    x = torch.randn(7, 4, dtype=torch.float64)
    small, smaller = (fragility(params, x, "tanh", torch.Generator().manual_seed(0), sigma=s,
                                draws=64)["parameter_sensitivity"] for s in (1e-4, 1e-5))
    assert small / smaller == pytest.approx(100, rel=1e-3)
