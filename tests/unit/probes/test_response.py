"""nakazato2024 response probes: the first-order factorisation (C5 as a unit test) and factors."""

from __future__ import annotations

import pytest
import torch

from trainlens.models.two_layer import TwoLayerConfig, init_params
from trainlens.probes.response import (
    finite_step_response,
    first_order_response,
    loss_derivative,
    loss_value,
    normalized_kernel,
    ntk,
    relative_error,
    response_factors,
)
from trainlens.training.two_layer_trainer import MinibatchStream, SubEnsemble, train_sub_ensemble


def _e2_network(activation: str, steps: list[int]) -> tuple[dict[int, dict], torch.Tensor,
                                                            torch.Tensor]:
    """E2 of the spec: d = 8, N = 8, m = 16, GD at η = 0.5 on cross-entropy; θ at ``steps``."""
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(8, 8, generator=gen, dtype=torch.float64)
    x = x / x.norm(dim=1, keepdim=True)
    y = torch.where(x[:, 0] >= 0, 1.0, -1.0).to(torch.float64)
    params = init_params(TwoLayerConfig(input_dim=8, width=16, activation=activation),
                         torch.Generator().manual_seed(5))
    sub = SubEnsemble(activation, ["logistic"], x[None], y[None], params,
                      torch.tensor([0.5], dtype=torch.float64),
                      torch.zeros(1, dtype=torch.float64),
                      [MinibatchStream(8, 0, torch.Generator(), torch.float64)],
                      [torch.Generator()])
    result = train_sub_ensemble(sub, max(steps), steps)
    return result.checkpoints, x, y


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "linear"])
def test_first_order_response_is_exact_in_the_limit_c5(activation):
    """Spec §6 C5 for smooth activations: <= 5% at η_p = 1e-3 and error ∝ η_p (ratio 5-20)."""
    checkpoints, x, y = _e2_network(activation, [0, 10, 100, 1000])
    for params in checkpoints.values():
        errors = {eta: relative_error(finite_step_response(params, x, y, "logistic", activation,
                                                           eta),
                                      first_order_response(params, x, y, "logistic", activation,
                                                           eta))
                  for eta in (1e-2, 1e-3)}
        assert errors[1e-3] <= 0.05
        assert 5 <= errors[1e-2] / errors[1e-3] <= 20


def test_relu_first_order_error_is_linear_below_the_kink_crossing_scale():
    """ReLU is piecewise bilinear in θ: without a kink crossed the error is exactly O(η_p).
    (With η_p = 1e-2 a step can cross a kink; the C5 claim reports that case as it falls.)"""
    checkpoints, x, y = _e2_network("relu", [0, 100])
    for params in checkpoints.values():
        errors = [relative_error(finite_step_response(params, x, y, "logistic", "relu", eta),
                                 first_order_response(params, x, y, "logistic", "relu", eta))
                  for eta in (1e-5, 1e-6)]
        assert errors[0] <= 1e-3
        assert 5 <= errors[0] / errors[1] <= 20


@pytest.mark.parametrize("loss", ["logistic", "mse"])
def test_loss_derivative_matches_autograd(loss):
    f = torch.linspace(-3, 3, 11, dtype=torch.float64, requires_grad=True)
    y = torch.where(torch.arange(11) % 2 == 0, 1.0, -1.0).to(torch.float64)
    loss_value(f, y, loss).sum().backward()
    torch.testing.assert_close(loss_derivative(f.detach(), y, loss), f.grad)


def test_factors_are_the_off_diagonal_means_of_their_definitions():
    checkpoints, x, y = _e2_network("tanh", [0, 50])
    params = checkpoints[50]
    factors = response_factors(params, x, y, "logistic", "tanh")
    eta = 1e-3
    first = first_order_response(params, x, y, "logistic", "tanh", eta)
    off = ~torch.eye(8, dtype=torch.bool)
    assert factors["response_mean"] == pytest.approx(float(first.abs()[off].mean() / eta))
    theta = ntk(params, x, None, "tanh")
    assert factors["ntk_offdiag"] == pytest.approx(float(theta[off].mean()))
    khat = normalized_kernel(theta)
    torch.testing.assert_close(torch.diagonal(khat), torch.ones(8, dtype=torch.float64))
    assert factors["khat_offdiag"] == pytest.approx(float(khat[off].mean()))
    assert factors["train_accuracy"] in {i / 8 for i in range(9)}


def test_one_example_normalised_kernel_is_one():
    params = init_params(TwoLayerConfig(input_dim=3, width=7), torch.Generator().manual_seed(0))
    x = torch.randn(1, 3, dtype=torch.float64)
    assert float(normalized_kernel(ntk(params, x, None, "relu"))) == pytest.approx(1.0)
