"""The atlas ``kernel`` probe: NTK diagonal and PR_W against closed forms."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from trainlens.data.base import Split
from trainlens.models import MODELS
from trainlens.models.two_layer import TwoLayerConfig, TwoLayerNet, init_params
from trainlens.probes import TABLE_PROBES, feature_space
from trainlens.probes.kernel import (
    first_layer,
    layer_matrix,
    ntk_diagonal,
    weight_participation_ratio,
)

F64 = {"dtype": torch.float64}


class Squeeze(nn.Module):
    """A layer stack with a scalar output of shape (N,)."""

    def __init__(self, *layers: nn.Module) -> None:
        super().__init__()
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).squeeze(-1)


def _x(n: int = 5, d: int = 3, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_linear_model_ntk_diagonal_is_norm_squared_plus_one():
    # f = w·x + b: ∇_θ f = (x, 1), so Θ(x, x) = ‖x‖² + 1 whatever w and b are
    x = _x()
    model = Squeeze(nn.Linear(3, 1, **F64))
    expected = x.pow(2).sum(1) + 1
    torch.testing.assert_close(ntk_diagonal(model, x, chunk_size=2), expected)
    model.body[0].bias.requires_grad_(False)  # a frozen parameter is not in θ
    torch.testing.assert_close(ntk_diagonal(model, x), expected - 1)


def test_two_output_linear_layer_gives_the_trace():
    x = _x()
    torch.testing.assert_close(ntk_diagonal(nn.Linear(3, 2, **F64), x), 2 * (x.pow(2).sum(1) + 1))


def test_two_layer_ntk_diagonal_matches_nakazato_closed_form():
    # docs/protocols/nakazato2024.md §4.2: Θ(x, x) = m⁻¹ Σ_k [φ(z_k)² + a_k² φ'(z_k)² (‖x‖² + 1)]
    config = TwoLayerConfig(input_dim=3, width=7, activation="tanh")
    params = init_params(config, torch.Generator().manual_seed(1))
    model = TwoLayerNet(config, params)
    x = _x(4)
    z = x @ params["W"][0].T + params["b"][0]
    phi, dphi = torch.tanh(z), 1 - torch.tanh(z) ** 2
    a = params["a"][0]
    expected = (phi**2 + a**2 * dphi**2 * (x.pow(2).sum(1, keepdim=True) + 1)).sum(1) / 7
    torch.testing.assert_close(ntk_diagonal(model, x, chunk_size=3), expected)


def test_kernel_table_averages_the_first_n_training_inputs():
    x = _x(6)
    split = Split(x, torch.zeros(6, **F64), x[:2], torch.zeros(2, **F64))
    model = Squeeze(nn.Linear(3, 1, **F64))
    rows = TABLE_PROBES["kernel"](model, split, {"kernel": {"n": 4}})
    values = {(r["split"], r["metric"]): r["value"] for r in rows}
    assert values[("train", "ntk_diagonal_mean")] == pytest.approx(
        float((x[:4].pow(2).sum(1) + 1).mean()))
    assert values[("params", "weight_participation_ratio")] == pytest.approx(1.0)  # one row
    default = TABLE_PROBES["kernel"](model, split, {})  # n = 100 > 6: every input
    assert default[0]["value"] == pytest.approx(float((x.pow(2).sum(1) + 1).mean()))


def _linear(weight: list[list[float]], bias: list[float] | None) -> nn.Module:
    layer = nn.Linear(len(weight[0]), len(weight), bias=bias is not None, **F64)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight, **F64))
        if bias is not None:
            layer.bias.copy_(torch.tensor(bias, **F64))
    return nn.Sequential(layer, nn.ReLU(), nn.Linear(len(weight), 1, **F64))


def test_pr_w_of_rank_one_and_orthogonal_rows():
    # rows c_k (u, β): rank one
    assert weight_participation_ratio(_linear([[1, 2], [-3, -6], [0.5, 1]], [3, -9, 1.5])) \
        == pytest.approx(1.0)
    # three orthogonal rows of equal norm (a Hadamard block split into W | b): PR = 3
    hadamard = [[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1]]
    model = _linear([row[:3] for row in hadamard], [row[3] for row in hadamard])
    assert weight_participation_ratio(model) == pytest.approx(3.0)
    # without a bias, W alone: eigenvalues 4 and 1
    model = _linear([[2, 0], [0, 1]], None)
    assert weight_participation_ratio(model) == pytest.approx((4 + 1) ** 2 / (16 + 1))


def test_pr_w_of_a_convolution_flattens_kernels_per_output_channel():
    conv = nn.Conv2d(1, 2, 2, **F64)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[[[1.0, 0], [0, 0]]], [[[0, 3.0], [0, 0]]]], **F64))
        conv.bias.zero_()
    assert layer_matrix(conv).shape == (2, 5)
    # rows (1, 0, 0, 0, 0) and (0, 3, 0, 0, 0): eigenvalues 1, 9
    assert weight_participation_ratio(nn.Sequential(conv)) == pytest.approx(100 / 82)


def test_pr_w_equals_the_two_layer_feature_space_measure():
    config = TwoLayerConfig(input_dim=5, width=9)
    params = init_params(config, torch.Generator().manual_seed(3))
    first = nn.Linear(5, 9, **F64)
    with torch.no_grad():
        first.weight.copy_(params["W"][0])
        first.bias.copy_(params["b"][0])
    model = nn.Sequential(first, nn.ReLU(), nn.Linear(9, 1, **F64))
    assert weight_participation_ratio(model) == pytest.approx(
        feature_space.weight_participation_ratio(params), rel=1e-12)


@pytest.mark.parametrize(("name", "options", "expected"), [
    ("loukas_mlp", {"input_dim": 4, "width": 3, "hidden_layers": 2}, "body.0"),
    ("loukas_cnn", {"in_channels": 1, "image_size": 28, "conv_channels": (2, 3), "hidden": 4},
     "features.1"),
    ("mlp", {"input_dim": 4, "widths": (3,), "out_dim": 2}, "body.0"),
    ("fort_cnn", {"image_size": 8, "channels": (2, 3)}, "features.0"),
])
def test_first_layer_of_each_registered_model(name, options, expected):
    # loukas models: the frozen-identity shift has a bias only, so PR_W reads the next layer
    spec = MODELS[name]
    model = spec.build(spec.config_cls(**options), torch.Generator().manual_seed(0))
    found, layer = first_layer(model)
    assert found == expected
    rows = layer.weight.shape[0]
    assert 1 - 1e-9 <= weight_participation_ratio(model) <= rows + 1e-9
    assert math.isfinite(float(ntk_diagonal(model, torch.randn(2, *_input_shape(name, options)))
                               .sum()))


def _input_shape(name: str, options: dict) -> tuple[int, ...]:
    if name in ("loukas_mlp", "mlp"):
        return (options["input_dim"],)
    return (options.get("in_channels", 1) * options["image_size"] ** 2,)


def test_kernel_block_reaches_the_group_config_and_is_validated(tmp_path):
    import yaml

    from trainlens.experiments.loading import load_experiments
    from trainlens.experiments.typed import ConfigError

    repo = Path(__file__).resolve().parents[3]
    document = yaml.safe_load((repo / "experiments" / "loukas2021.yaml").read_text())
    e1a = document["experiments"]["e1a"]
    e1a.update(probes=["outcomes", "kernel"], kernel={"n": 50})
    e1a["smoke"]["kernel"] = {"n": 7}  # a per-scale override
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump(document))
    groups = {g.experiment: g for g in load_experiments(path, "smoke")}
    assert groups["e1a"].config["kernel"] == {"n": 7}
    assert "kernel" not in groups["e2"].config  # absent without a block: configs unchanged
    e1a["kernel"] = {"n_inputs": 50}
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError, match="n_inputs"):
        load_experiments(path, "smoke")
