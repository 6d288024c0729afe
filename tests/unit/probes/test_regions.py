"""Linear regions and the LP bound of loukas2021 Theorem 2 (docs/protocols/loukas2021.md §4.3)."""

from __future__ import annotations

import numpy as np
import torch

from trainlens.models.init import initialize_
from trainlens.models.loukas import LoukasMLP, LoukasMLPConfig
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
    # λ is ‖W2 diag(s2) W1 diag(s1)‖ with the masks read from the pre-activations (closed form)
    with torch.no_grad():
        pre1 = x_grid + model.shift.bias
        pre2 = model.body[0](torch.relu(pre1))
    w1, w2 = model.body[0].weight.detach(), model.body[2].weight.detach()[0]
    gradients = ((w2 * (pre2 > 0)) @ w1) * (pre1 > 0)
    np.testing.assert_allclose(table["lipschitz"], gradients.norm(dim=1), rtol=1e-12)
    inside = region_analysis(model, x_train, x_train)
    assert inside["in_training_region"].all() and inside["lp_bound"].isna().all()


def _hand_built() -> LoukasMLP:
    """MLP2 with d = 2, width 2: z(x) = W2 ReLU(W1 ReLU(x + b1) + c1) + c2, weights by hand."""
    model = LoukasMLP(LoukasMLPConfig(input_dim=2, width=2, hidden_layers=1)).double()
    with torch.no_grad():
        model.shift.bias.copy_(torch.tensor([-1.0, 0.0]))
        model.body[0].weight.copy_(torch.tensor([[1.0, 2.0], [3.0, -1.0]]))
        model.body[0].bias.copy_(torch.tensor([0.0, -1.0]))
        model.body[2].weight.copy_(torch.tensor([[2.0, -1.0]]))
        model.body[2].bias.copy_(torch.tensor([0.5]))
    return model


def test_region_lambda_and_output_on_a_hand_built_network():
    """Every value worked out by hand. With s1 = [x + b1 > 0], s2 = [W1 ReLU(x + b1) + c1 > 0],
    ∇_x z = W2 diag(s2) W1 diag(s1):
      A  = (2, 1):   x+b1 = (1, 1),   pre2 = (3, 1):  s1 = s2 = (1, 1),    ∇ = (−1, 5), z = 5.5
      A' = (3, 1.5): x+b1 = (2, 1.5), pre2 = (5, 3.5): the region of A,    ∇ = (−1, 5), z = 7
      B  = (.5, 1):  x+b1 = (−.5, 1), pre2 = (2, −2): s1 = (0, 1), s2 = (1, 0), ∇ = (0, 4), z = 4.5
      C  = (3, −1):  x+b1 = (2, −1),  pre2 = (2, 5):  s1 = (1, 0), s2 = (1, 1), ∇ = (−1, 0), z = −.5
      D  = (2, 3):   x+b1 = (1, 3),   pre2 = (7, −1): s1 = (1, 1), s2 = (1, 0), ∇ = (2, 4), z = 14.5
      E  = (0, −1):  x+b1 = (−1, −1): s1 = 0, ∇ = 0, z = W2 ReLU(c1) + c2 = 0.5
    Patterns κ = s2 ⊗ s1: A 1111, B 0100, C 1010, D 1100, E 0000. With A, B, C the training
    points, D needs α_A = 0 (entry 4) and α_C = −α_A = 0 (entry 3), then entry 1 gives 0 = 1:
    no representation, LP* = ∞. E is α = 0: LP* = 0 with no nonzero."""
    model = _hand_built()
    x_train = torch.tensor([[2.0, 1.0], [0.5, 1.0], [3.0, -1.0]], dtype=torch.float64)
    x_grid = torch.tensor([[2.0, 1.0], [3.0, 1.5], [0.5, 1.0], [3.0, -1.0], [2.0, 3.0],
                           [0.0, -1.0]], dtype=torch.float64)
    np.testing.assert_array_equal(
        activation_patterns(model, x_grid),
        [[1, 1, 1, 1], [1, 1, 1, 1], [0, 1, 0, 0], [1, 0, 1, 0], [1, 1, 0, 0], [0, 0, 0, 0]])
    table = region_analysis(model, x_train, x_grid)
    np.testing.assert_allclose(table["lipschitz"],
                               [26**0.5, 26**0.5, 4.0, 1.0, 20**0.5, 0.0], rtol=1e-12)
    np.testing.assert_allclose(table["output"], [5.5, 7.0, 4.5, -0.5, 14.5, 0.5], rtol=1e-12)
    assert table["in_training_region"].tolist() == [True, True, True, True, False, False]
    assert table["region"][0] == table["region"][1] and table["region"].nunique() == 5
    assert table["lp_bound"][:4].isna().all()
    assert table["lp_bound"][4] == float("inf") and table["alpha_nonzeros"][4] == 0
    assert table["lp_bound"][5] == 0.0 and table["alpha_nonzeros"][5] == 0
