"""Linear regions and the LP bound of loukas2021 Theorem 2 (spec §4.3)."""

from __future__ import annotations

import numpy as np
import torch

from trainlens.models.init import initialize_
from trainlens.models.loukas import LoukasMLP, LoukasMLPConfig
from trainlens.probes import input_gradient_norms
from trainlens.probes.regions import activation_patterns, lp_bound, region_analysis


def _mlp2(seed: int) -> LoukasMLP:
    config = LoukasMLPConfig(input_dim=10, width=32, hidden_layers=1)
    return initialize_(LoukasMLP(config), torch.Generator().manual_seed(seed)).double()


def test_lp_bound_on_a_hand_solved_example():
    patterns = np.array([[1, 0, 0], [0, 1, 0]])  # two training regions
    lipschitz = np.array([2.0, 3.0])
    assert lp_bound(patterns, lipschitz, np.array([1, 1, 0])) == (5.0, 2)  # α = (1, 1)
    assert lp_bound(patterns, lipschitz, np.array([1, 0, 0])) == (2.0, 1)
    value, nonzeros = lp_bound(patterns, lipschitz, np.array([0, 0, 1]))  # not representable
    assert value == float("inf") and nonzeros == 0


def test_patterns_are_the_outer_product_of_the_two_masks():
    model = _mlp2(0)
    x = torch.randn(7, 10, dtype=torch.float64)
    kappa = activation_patterns(model, x)
    s1 = (x + model.shift.bias).detach().numpy() > 0
    s2 = (model.body[0](torch.relu(x + model.shift.bias))).detach().numpy() > 0
    assert kappa.shape == (7, 320)
    np.testing.assert_array_equal(kappa.reshape(7, 32, 10), s2[:, :, None] & s1[:, None, :])


def test_lipschitz_is_bounded_by_the_lp_on_every_feasible_off_training_point():
    # The inequality is exact (the gradient is linear in the pattern), so it must hold for any
    # weights: here a random model, 40 training points, a 30 x 30 grid of other points.
    model = _mlp2(3)
    generator = torch.Generator().manual_seed(4)
    x_train = 4 * torch.randn(40, 10, generator=generator, dtype=torch.float64)
    x_grid = 4 * torch.randn(900, 10, generator=generator, dtype=torch.float64)
    table = region_analysis(model, x_train, x_grid)
    off = table[~table["in_training_region"]]
    feasible = off[np.isfinite(off["lp_bound"])]
    assert len(feasible) > 0
    assert (feasible["lipschitz"] <= feasible["lp_bound"] * (1 + 1e-6) + 1e-9).all()
    # a point of a training region has exactly the λ of that region
    np.testing.assert_allclose(table["lipschitz"], input_gradient_norms(model, x_grid).detach())
    inside = region_analysis(model, x_train, x_train)
    assert inside["in_training_region"].all() and inside["lp_bound"].isna().all()
