"""The generic MLP's batched forward of a stacked ensemble (dherin2022, fort2019)."""

from __future__ import annotations

import pytest
import torch
from torch.func import stack_module_state

from trainlens.models.mlp import MLP, MLPConfig, build


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "linear"])
@pytest.mark.parametrize("widths,out_dim", [((7,), 3), ((6, 5, 4), 1)])
def test_stacked_forward_equals_each_members_forward(activation, widths, out_dim):
    models = [build(MLPConfig(input_dim=12, widths=widths, out_dim=out_dim,
                              activation=activation), torch.Generator().manual_seed(seed)
                    ).double() for seed in range(4)]
    params, _ = stack_module_state(models)
    # image-shaped inputs: forward flattens all but the batch axis, forward_stacked all but two
    x = torch.randn(4, 9, 3, 2, 2, dtype=torch.float64)
    expected = torch.stack([m(x[k]) for k, m in enumerate(models)])
    meta = MLP(MLPConfig(input_dim=12, widths=widths, out_dim=out_dim,
                         activation=activation)).to("meta")  # the layer structure only
    got = meta.forward_stacked(params, x)
    assert got.shape == expected.shape == ((4, 9) if out_dim == 1 else (4, 9, out_dim))
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-13)


def test_stacked_weight_gradients_are_contiguous():
    # why the features go first: the optimizer's passes over transposed gradients were slow
    models = [build(MLPConfig(input_dim=5, widths=(8, 8), out_dim=3),
                    torch.Generator().manual_seed(seed)) for seed in range(3)]
    params, _ = stack_module_state(models)
    out = models[0].forward_stacked(params, torch.randn(3, 10, 5))
    grads = torch.autograd.grad(out.pow(2).sum(), tuple(params.values()))
    assert all(g.is_contiguous() for g in grads)
