"""loukas2021 architectures (docs/protocols/loukas2021.md §3), the generic MLP and the
explicit-generator initialisation.

Parameter counts are worked out by hand from the protocol's layer lists; init statistics are checked
against the formulas of each scheme, not against the code's own constants.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from trainlens.models import MODELS
from trainlens.models.init import initialize_
from trainlens.models.loukas import (
    BiasShift,
    LoukasCNNConfig,
    LoukasMLPConfig,
    build_cnn,
    build_mlp,
)
from trainlens.models.mlp import ACTIVATIONS, MLPConfig
from trainlens.models.mlp import build as build_generic

torch.set_num_threads(1)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def n_trainable(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_e1a_mlp_has_2507_parameters_and_scalar_output() -> None:
    model = build_mlp(LoukasMLPConfig(), gen(0))
    # b1 (10) + Linear(10,32) + 2 x Linear(32,32) + Linear(32,1)
    assert n_trainable(model) == 10 + (10 * 32 + 32) + 2 * (32 * 32 + 32) + (32 + 1) == 2507
    assert model(torch.zeros(5, 10)).shape == (5,)


def test_mlp2_has_one_hidden_layer() -> None:
    model = build_mlp(LoukasMLPConfig(hidden_layers=1), gen(0))
    assert n_trainable(model) == 10 + 352 + 33
    assert sum(isinstance(m, nn.Linear) for m in model.modules()) == 2


def test_e1b_cnn_parameter_count_and_shapes() -> None:
    model = build_cnn(LoukasCNNConfig(), gen(0))
    # b1 3072, conv 3->96 k5, conv 96->384 k5, Linear(384,384), Linear(384,1)
    expected = 3072 + (3 * 96 * 25 + 96) + (96 * 384 * 25 + 384) + (384 * 384 + 384) + 385
    assert n_trainable(model) == expected == 1_080_577
    with torch.no_grad():
        out = model(torch.randn(2, 3, 32, 32, generator=gen(1)))
    assert out.shape == (2,) and torch.isfinite(out).all()


def test_mnist_cnn_one_channel_28() -> None:
    model = build_cnn(LoukasCNNConfig(in_channels=1, image_size=28), gen(0))
    # 28 -> 24 -> 8 -> 4 -> 1, so the head is again Linear(384, 384)
    expected = 784 + (96 * 25 + 96) + (96 * 384 * 25 + 384) + (384 * 384 + 384) + 385
    assert n_trainable(model) == expected
    with torch.no_grad():
        assert model(torch.randn(3, 1, 28, 28, generator=gen(1))).shape == (3,)


def test_bias_shift_is_relu_of_x_plus_b() -> None:
    shift = BiasShift(4)
    with torch.no_grad():
        shift.bias.copy_(torch.tensor([0.5, -1.0, 0.0, 2.0]))
    x = torch.tensor([[1.0, 0.5, -3.0, -1.0], [-1.0, 2.0, 0.25, -2.5]])
    expected = torch.tensor([[1.5, 0.0, 0.0, 1.0], [0.0, 1.0, 0.25, 0.0]])
    torch.testing.assert_close(shift(x), expected)


def test_bias_shift_init_bound_and_depends_only_on_generator_seed() -> None:
    d = 400
    biases = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)  # the global RNG must not matter
        shift = BiasShift(d)
        shift.reset_parameters_from(gen(7))
        biases.append(shift.bias.detach().clone())
    torch.testing.assert_close(biases[0], biases[1], rtol=0, atol=0)
    bound = 1 / math.sqrt(d)
    assert biases[0].abs().max() <= bound
    assert biases[0].abs().max() > 0.9 * bound  # uses the whole interval, not a narrower one
    other = BiasShift(d)
    other.reset_parameters_from(gen(8))
    assert not torch.equal(other.bias, biases[0])


@pytest.mark.parametrize("model", [
    build_mlp(LoukasMLPConfig(), gen(3)),
    build_generic(MLPConfig(input_dim=300, widths=(200, 50), out_dim=4), gen(3)),
])
def test_pytorch_default_bounds_for_every_linear(model: nn.Module) -> None:
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert linears
    for layer in linears:
        bound = 1 / math.sqrt(layer.in_features)
        assert layer.weight.abs().max() <= bound and layer.bias.abs().max() <= bound
        assert layer.weight.abs().max() > 0.5 * bound


def test_same_generator_seed_same_model_different_seed_different() -> None:
    def flat(seed: int) -> torch.Tensor:
        return torch.cat([p.detach().flatten() for p in build_mlp(LoukasMLPConfig(),
                                                                   gen(seed)).parameters()])

    torch.manual_seed(0)
    a = flat(11)
    torch.manual_seed(99)
    assert torch.equal(a, flat(11))
    assert not torch.equal(a, flat(12))


def _numpy_forward(model: nn.Module, x: np.ndarray, activation: str) -> np.ndarray:
    act = {"relu": lambda h: np.maximum(h, 0), "tanh": np.tanh,
           "sigmoid": lambda h: 1 / (1 + np.exp(-h)), "linear": lambda h: h}[activation]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    h = x
    for i, layer in enumerate(linears):
        h = h @ layer.weight.detach().numpy().T + layer.bias.detach().numpy()
        if i < len(linears) - 1:
            h = act(h)
    return h


@pytest.mark.parametrize("init", ["pytorch_default", "lecun_normal", "glorot_uniform", "he_normal"])
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_generic_mlp_forward_matches_numpy(activation: str, init: str) -> None:
    config = MLPConfig(input_dim=6, widths=(5, 4), out_dim=3, activation=activation, init=init)
    model = build_generic(config, gen(0)).double()
    x = np.random.default_rng(0).standard_normal((7, 2, 3))  # flattened to 6 features
    out = model(torch.from_numpy(x)).detach().numpy()
    assert out.shape == (7, 3)
    np.testing.assert_allclose(out, _numpy_forward(model, x.reshape(7, 6), activation), rtol=1e-12)
    scalar = build_generic(MLPConfig(input_dim=6, widths=(5,), out_dim=1, activation=activation,
                                     init=init), gen(0))
    assert scalar(torch.zeros(7, 6)).shape == (7,)


def test_zero_bias() -> None:
    model = build_generic(MLPConfig(input_dim=5, widths=(8,), out_dim=2, zero_bias=True), gen(0))
    for layer in (m for m in model.modules() if isinstance(m, nn.Linear)):
        assert torch.count_nonzero(layer.bias) == 0 and torch.count_nonzero(layer.weight) > 0


@pytest.mark.parametrize(("init", "std"), [
    ("lecun_normal", lambda fan_in, fan_out: 1 / math.sqrt(fan_in)),
    ("he_normal", lambda fan_in, fan_out: math.sqrt(2 / fan_in)),
    ("glorot_uniform", lambda fan_in, fan_out: math.sqrt(6 / (fan_in + fan_out)) / math.sqrt(3)),
])
def test_init_scheme_std_on_a_large_layer(init: str, std) -> None:
    fan_in, fan_out = 400, 1000
    model = build_generic(MLPConfig(input_dim=fan_in, widths=(fan_out,), out_dim=1, init=init),
                          gen(5))
    w = model.body[0].weight.detach().numpy()
    assert w.shape == (fan_out, fan_in)
    assert abs(w.mean()) < 0.05 * std(fan_in, fan_out)
    assert w.std() == pytest.approx(std(fan_in, fan_out), rel=0.05)


def test_conv_fan_in_includes_receptive_field() -> None:
    conv = nn.Conv2d(8, 16, 5)
    initialize_(conv, gen(0), scheme="he_normal")
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / (8 * 25)), rel=0.05)


@pytest.mark.parametrize(("kwargs", "key"), [
    ({"activation": "gelu"}, "model.activation"),
    ({"init": "xavier"}, "model.init"),
])
def test_bad_names_raise_value_error_naming_the_key(kwargs: dict, key: str) -> None:
    with pytest.raises(ValueError, match=key):
        MLPConfig(**kwargs)


def test_initialize_rejects_unknown_scheme() -> None:
    with pytest.raises(ValueError, match="model.init"):
        initialize_(nn.Linear(2, 2), gen(0), scheme="orthogonal")


def test_registry_builds_loukas_models() -> None:
    spec = MODELS["loukas_mlp"]
    model = spec.build(spec.config_cls(), gen(0))
    assert spec.first_bias in dict(model.named_parameters())
    assert dict(model.named_parameters())[spec.first_bias].shape == (10,)
