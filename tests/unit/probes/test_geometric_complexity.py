"""Geometric complexity (dherin2022 §4): analytic cases and the estimator's stated variance."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from trainlens.probes import (
    PROBES,
    InputSet,
    Options,
    geometric_complexity,
    geometric_complexity_hutchinson,
    hutchinson_variance,
    per_example_geometric_complexity,
)
from trainlens.probes.geometric_complexity import hutchinson_sq_norms


def _mlp(seed: int = 0, d: int = 6, k: int = 4) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh(),
                         nn.Linear(16, k)).double()


def _loop_sq_norms(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The baseline: one full Jacobian per example, in a Python loop."""
    return torch.stack([torch.autograd.functional.jacobian(lambda v: model(v[None])[0], xi)
                        .pow(2).sum() for xi in x])


def test_linear_model_gc_is_squared_frobenius_norm_of_a():
    torch.manual_seed(1)
    model = nn.Linear(7, 3).double()
    x = torch.randn(11, 7, dtype=torch.float64)
    expected = model.weight.detach().pow(2).sum()
    assert torch.allclose(geometric_complexity(model, x), expected, rtol=1e-12, atol=0)


def test_scalar_output_gc_is_squared_gradient_norm():
    torch.manual_seed(2)
    w = torch.randn(5, dtype=torch.float64)
    model = nn.Sequential(nn.Linear(5, 1, bias=False).double(), nn.Flatten(0))
    with torch.no_grad():
        model[0].weight.copy_(w[None])
    x = torch.randn(4, 5, dtype=torch.float64)
    assert torch.allclose(per_example_geometric_complexity(model, x), w.pow(2).sum().expand(4))


def test_exact_gc_equals_a_per_example_jacobian_loop():
    model = _mlp()
    x = torch.randn(9, 6, dtype=torch.float64)
    assert torch.allclose(per_example_geometric_complexity(model, x), _loop_sq_norms(model, x),
                          rtol=1e-12, atol=1e-14)


def test_relu_gc_is_the_cell_weighted_sum_of_linear_maps():
    # docs/protocols/dherin2022.md §4: on each cell f = A_i x + b_i, so GC = Σ_i (n_i/|D|) ‖A_i‖²_F
    torch.manual_seed(3)
    first, second = nn.Linear(3, 8).double(), nn.Linear(8, 2).double()
    model = nn.Sequential(first, nn.ReLU(), second)
    x = torch.randn(20, 3, dtype=torch.float64)
    with torch.no_grad():
        active = (first(x) > 0).to(x.dtype)  # (N, 8): the cell of each point
        a = torch.einsum("kh,nh,hd->nkd", second.weight, active, first.weight)
    assert torch.allclose(geometric_complexity(model, x), a.pow(2).sum((1, 2)).mean(),
                          rtol=1e-12)


def test_measured_in_eval_mode_and_mode_restored():
    # BatchNorm in train mode would mix the batch (docs/protocols/dherin2022.md §7 pitfall 3): GC
    # uses running statistics
    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3)).double()
    model.train()
    model(torch.randn(32, 4, dtype=torch.float64))  # move the running statistics off (0, 1)
    x = torch.randn(6, 4, dtype=torch.float64)
    value = geometric_complexity(model, x)
    assert model.training
    model.eval()
    assert torch.allclose(value, _loop_sq_norms(model, x).mean(), rtol=1e-12)


def test_hutchinson_agrees_with_exact_within_its_stated_variance():
    model = _mlp(seed=5, k=10)
    x = torch.randn(64, 6, dtype=torch.float64)
    exact = geometric_complexity(model, x)
    generator = torch.Generator().manual_seed(0)
    estimate = geometric_complexity_hutchinson(model, x, 4, generator)
    std = hutchinson_variance(model, x, 4).sqrt()
    assert 0 < std < exact  # a real spread, smaller than the value at B = 64
    assert abs(estimate - exact) <= 4 * std


def test_hutchinson_variance_formula_matches_repeated_draws():
    model = _mlp(seed=6, k=5)
    x = torch.randn(8, 6, dtype=torch.float64)
    generator = torch.Generator().manual_seed(1)
    draws = torch.stack([geometric_complexity_hutchinson(model, x, 1, generator)
                         for _ in range(2000)])
    exact = geometric_complexity(model, x)
    stated = hutchinson_variance(model, x, 1)
    assert abs(draws.mean() - exact) <= 4 * (stated / len(draws)).sqrt()  # unbiased
    assert draws.var() == pytest.approx(float(stated), rel=0.15)


def test_hutchinson_penalty_gradient_of_a_linear_model():
    # GĈ = mean_{p,i} ‖v_{p,i}ᵀ A‖², so ∂GĈ/∂A = 2 mean_{p,i} v_{p,i} v_{p,i}ᵀ A
    torch.manual_seed(7)
    model = nn.Linear(5, 3).double()
    x = torch.randn(4, 5, dtype=torch.float64)
    signs = torch.randint(0, 2, (2, 4, 3)).double() * 2 - 1
    penalty = hutchinson_sq_norms(lambda v: model(v), x, signs).mean()
    (grad,) = torch.autograd.grad(penalty, model.weight)
    outer = torch.einsum("pik,pil->kl", signs, signs) / (2 * 4)
    assert torch.allclose(grad, 2 * outer @ model.weight.detach(), rtol=1e-12)


def test_registered_probe_mean_is_gc():
    model = _mlp(seed=8)
    x = torch.randn(5, 6, dtype=torch.float64)
    rows = PROBES["geometric_complexity"].measure(model, {"train": InputSet(x)}, Options())
    assert [(r["split"], r["metric"]) for r in rows] == [
        ("train", "geometric_complexity_mean"), ("train", "geometric_complexity_max")]
    assert rows[0]["value"] == pytest.approx(float(geometric_complexity(model, x)), rel=1e-12)


def test_projection_count_must_be_positive():
    with pytest.raises(ValueError, match="projections must be >= 1"):
        geometric_complexity_hutchinson(_mlp(), torch.zeros(2, 6, dtype=torch.float64), 0,
                                        torch.Generator())


def test_chunks_give_the_same_values():
    model = _mlp(seed=9)
    x = torch.randn(10, 6, dtype=torch.float64)
    assert torch.allclose(per_example_geometric_complexity(model, x, chunk_size=3),
                          per_example_geometric_complexity(model, x), rtol=1e-12)
