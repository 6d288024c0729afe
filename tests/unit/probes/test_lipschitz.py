"""Analytic cases of the input-gradient probe (loukas2021 §4.2)."""

from __future__ import annotations

import torch
from torch import nn

from trainlens.models.init import initialize_
from trainlens.models.loukas import LoukasMLP, LoukasMLPConfig
from trainlens.probes import input_gradient_norms, input_jacobians


def test_linear_scalar_model_has_the_weight_norm_everywhere():
    model = nn.Linear(7, 1).double()
    x = torch.randn(13, 7, dtype=torch.float64)
    expected = model.weight.detach().norm().expand(13)
    torch.testing.assert_close(input_gradient_norms(model, x), expected)


def test_linear_vector_model_has_the_frobenius_norm():
    model = nn.Linear(6, 4).double()
    x = torch.randn(5, 6, dtype=torch.float64)
    torch.testing.assert_close(input_gradient_norms(model, x),
                               model.weight.detach().norm().expand(5))
    jac = input_jacobians(model, x)
    assert jac.shape == (5, 4, 6)
    torch.testing.assert_close(jac, model.weight.detach().expand(5, 4, 6))


def test_relu_mlp_matches_the_closed_form_with_masks():
    # λ(x) = ‖W_L S_{L−1} W_{L−1} ⋯ S_1 W_1 S_0‖ with S_l the 0/1 masks of the pre-activations
    # (S_0 from the bias shift); built here from the weights, independently of autograd.
    config = LoukasMLPConfig()
    model = initialize_(LoukasMLP(config), torch.Generator().manual_seed(3)).double()
    x = torch.randn(20, config.input_dim, dtype=torch.float64) * 3
    linears = [m for m in model.body if isinstance(m, nn.Linear)]
    expected = []
    for xi in x:
        pre = xi + model.shift.bias.detach()
        jac = torch.diag((pre > 0).double())
        h = torch.relu(pre)
        for layer in linears:
            pre = layer.weight.detach() @ h + layer.bias.detach()
            jac = layer.weight.detach() @ jac
            if layer is not linears[-1]:
                jac = (pre > 0).double()[:, None] * jac
                h = torch.relu(pre)
        expected.append(jac.norm())
    torch.testing.assert_close(input_gradient_norms(model, x), torch.stack(expected))


def test_batch_results_do_not_depend_on_the_batch_and_mode_is_restored():
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    model.train()
    x = torch.randn(9, 5, dtype=torch.float64)
    whole = input_gradient_norms(model, x)
    parts = torch.cat([input_gradient_norms(model, x[:4]), input_gradient_norms(model, x[4:])])
    torch.testing.assert_close(whole, parts)
    assert model.training
