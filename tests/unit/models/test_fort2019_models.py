"""The fort2019 CNN and ResNet20 (docs/protocols/fort2019.md §3 E1): sizes, shapes, no
normalisation, seeded init and
per-example gradients through ``torch.func``."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from trainlens.models import MODELS
from trainlens.models.fort_cnn import FortCNNConfig
from trainlens.models.resnet20 import ResNet20Config


def _n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _build(config, seed: int = 0) -> nn.Module:
    return MODELS[config.name].build(config, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(("config", "expected"), [
    # convs: 1·16·9+16 = 160, 16·32·9+32 = 4,640, 32·32·9+32 = 9,248 → 14,048; head 32·s²·10+10
    (FortCNNConfig(pool="every"), 16_938),  # 28→14→7→3: 14,048 + 2,890
    (FortCNNConfig(pool="final"), 76_778),  # 28→14: 14,048 + 62,730
    (FortCNNConfig(image_size=8, pool="every"), 14_378),  # 8→4→2→1: 14,048 + 330
])
def test_fort_cnn_parameter_counts_match_the_spec(config, expected):
    assert _n_params(_build(config)) == expected


def test_resnet20_has_271690_parameters():
    """k = 16, 3 input channels, 10 classes; a 3×3 conv a→b has 9ab + b, a 1×1 one ab + b.

    stem 3→16:                                                    448
    stage 1: 3 blocks × 2 convs 16→16 = 6 × 2,320              13,920
    stage 2: 16→32 (4,640) + 32→32 (9,248) + 1×1 16→32 (544)
             + 2 blocks × 2 × 9,248                             51,424
    stage 3: 32→64 (18,496) + 64→64 (36,928) + 1×1 32→64 (2,112)
             + 2 blocks × 2 × 36,928                           205,248
    head Linear(64, 10):                                          650
    total                                                     271,690  (≈0.27 M,
    docs/protocols/fort2019.md §3 E1)
    """
    assert _n_params(_build(ResNet20Config())) == 271_690


@pytest.mark.parametrize("config", [
    FortCNNConfig(pool="every"), FortCNNConfig(pool="final"),
    FortCNNConfig(in_channels=3, image_size=8), ResNet20Config(), ResNet20Config(in_channels=1),
])
def test_flat_and_nchw_inputs_give_the_same_logits(config):
    model = _build(config).eval()
    side = getattr(config, "image_size", 8)
    x = torch.randn(4, config.in_channels, side, side, generator=torch.Generator().manual_seed(1))
    out = model(x)
    assert out.shape == (4, config.out_dim)
    torch.testing.assert_close(model(x.flatten(1)), out)


def test_resnet20_rejects_flat_input_that_is_not_square_images():
    with pytest.raises(ValueError, match="square"):
        _build(ResNet20Config())(torch.zeros(2, 3 * 8 * 8 + 1))


@pytest.mark.parametrize("config", [FortCNNConfig(pool="every"), FortCNNConfig(pool="final"),
                                    ResNet20Config()])
def test_no_normalisation_layers(config):
    # batch statistics would couple the per-example gradients (docs/protocols/fort2019.md §7
    # pitfall 2)
    model = _build(config)
    assert not [m for m in model.modules() if "norm" in type(m).__name__.lower()]
    assert list(model.buffers()) == []  # no running statistics of any kind


@pytest.mark.parametrize("config", [FortCNNConfig(), ResNet20Config(),
                                    FortCNNConfig(init="pytorch_default", zero_bias=False)])
def test_the_same_seed_gives_the_same_init(config):
    first, again, other = _build(config, 7), _build(config, 7), _build(config, 8)
    for (name, a), b, c in zip(first.named_parameters(), again.parameters(), other.parameters()):
        assert torch.equal(a, b), name
        if not (config.zero_bias and name.endswith("bias")):  # zero biases agree across seeds
            assert not torch.equal(a, c), name


def _kernels_and_biases(model: nn.Module):
    return [(m.weight, m.bias) for m in model.modules() if isinstance(m, nn.Linear | nn.Conv2d)]


@pytest.mark.parametrize("config", [FortCNNConfig(), ResNet20Config()])
def test_default_init_is_keras_glorot_uniform_with_zero_biases(config):
    # docs/protocols/fort2019.md §2b F-c: Keras' defaults. Glorot-uniform is U(±√(6/(fan_in +
    # fan_out))) with
    # fan = channels × kernel area, so its variance is 2/(fan_in + fan_out): checked on the
    # sample variance of every layer (PyTorch's default, U(±1/√fan_in), has 1/(3 fan_in))
    for weight, bias in _kernels_and_biases(_build(config)):
        area = weight[0][0].numel() if weight.dim() > 2 else 1
        fan_in, fan_out = weight.shape[1] * area, weight.shape[0] * area
        bound = (6.0 / (fan_in + fan_out)) ** 0.5
        assert weight.abs().max() <= bound
        if weight.numel() >= 1000:  # enough draws for a 10% variance check
            variance = weight.double().pow(2).mean().item()
            assert abs(variance / (2.0 / (fan_in + fan_out)) - 1) < 0.1
        assert torch.equal(bias, torch.zeros_like(bias))


@pytest.mark.parametrize("config", [FortCNNConfig(init="pytorch_default", zero_bias=False),
                                    ResNet20Config(init="pytorch_default", zero_bias=False)])
def test_pytorch_default_variant_draws_weights_and_biases_in_one_over_root_fan_in(config):
    for weight, bias in _kernels_and_biases(_build(config)):
        fan_in = weight[0].numel()
        assert weight.abs().max() <= fan_in ** -0.5 and bias.abs().max() <= fan_in ** -0.5
        assert bias.abs().max() > 0
        if weight.numel() >= 1000:
            assert abs(weight.double().pow(2).mean().item() * 3 * fan_in - 1) < 0.1


@pytest.mark.parametrize("config", [FortCNNConfig(image_size=8, pool="every"),
                                    FortCNNConfig(image_size=8, pool="final"),
                                    ResNet20Config()])
def test_vmap_per_example_gradients_equal_a_loop(config):
    # docs/protocols/fort2019.md §6 U3 at float64: vmap(grad(·)) with functional_call against
    # batch-1 autograd
    model = _build(config).double().eval()
    side = getattr(config, "image_size", 8)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, config.in_channels * side * side, generator=g, dtype=torch.float64)
    y = torch.randint(0, config.out_dim, (3,), generator=g)
    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss(p: dict, xi: torch.Tensor, yi: torch.Tensor) -> torch.Tensor:
        logits = functional_call(model, p, (xi.unsqueeze(0),))
        return nn.functional.cross_entropy(logits, yi.unsqueeze(0))

    batched = vmap(grad(loss), in_dims=(None, 0, 0))(params, x, y)
    for i in range(3):
        single = nn.functional.cross_entropy(model(x[i:i + 1]), y[i:i + 1])
        looped = torch.autograd.grad(single, list(model.parameters()))
        for (name, _), expected in zip(model.named_parameters(), looped):
            torch.testing.assert_close(batched[name][i], expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize(("cls", "kwargs", "key"), [
    (FortCNNConfig, {"channels": ()}, "channels"),
    (FortCNNConfig, {"channels": (16, 0, 32)}, "channels"),
    (FortCNNConfig, {"pool": "avg"}, "pool"),
    (FortCNNConfig, {"image_size": 7, "pool": "every"}, "image_size"),  # 7→3→1→0
    (FortCNNConfig, {"image_size": 1, "pool": "final"}, "image_size"),
    (FortCNNConfig, {"in_channels": 0}, "in_channels"),
    (FortCNNConfig, {"out_dim": 0}, "out_dim"),
    (FortCNNConfig, {"init": "orthogonal"}, "init"),
    (ResNet20Config, {"width": 0}, "width"),
    (ResNet20Config, {"in_channels": 0}, "in_channels"),
    (ResNet20Config, {"out_dim": 0}, "out_dim"),
    (ResNet20Config, {"init": "orthogonal"}, "init"),
])
def test_bad_config_values_name_the_key(cls, kwargs, key):
    with pytest.raises(ValueError, match=re.escape(f"model.{key}")):
        cls(**kwargs)


def test_smallest_valid_image_sizes_build():
    assert _build(FortCNNConfig(image_size=8, pool="every"))(torch.zeros(1, 64)).shape == (1, 10)
    assert _build(FortCNNConfig(image_size=2, pool="final"))(torch.zeros(1, 4)).shape == (1, 10)
