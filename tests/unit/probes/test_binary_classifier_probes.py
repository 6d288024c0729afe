"""The atlas runs fort2019 stiffness, dherin2022 GC and loukas2021 λ on scalar-output binary
classifiers trained with BCE (loukas_mlp, loukas_cnn on mnist5k 4 vs 9): each probe against a
hand computation on 4 examples."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn

from trainlens.data.base import Split
from trainlens.measure import run_probe
from trainlens.models import MODELS
from trainlens.probes import PROBES

MODEL_OPTIONS = {
    "loukas_mlp": {"input_dim": 6, "width": 8, "hidden_layers": 2},
    "loukas_cnn": {"in_channels": 1, "image_size": 28, "conv_channels": (4, 6), "hidden": 8},
}


def _model(name: str, dtype: torch.dtype) -> nn.Module:
    spec = MODELS[name]
    model = spec.build(spec.config_cls(**MODEL_OPTIONS[name]), torch.Generator().manual_seed(0))
    # every parameter scaled by its own factor in [1, 3]: at the plain init the per-example
    # gradients are nearly parallel (cosines ≈ ±0.98), which hides a wrong pairing
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1 + 2 * torch.rand(p.shape, generator=generator, dtype=p.dtype))
    return model.to(dtype)


def _inputs(name: str, n: int, seed: int, dtype: torch.dtype) -> torch.Tensor:
    d = MODEL_OPTIONS[name].get("input_dim", 28 * 28)
    shape = (n, d) if name == "loukas_mlp" else (n, 1, 28, 28)  # mnist5k images are NCHW
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _split(name: str, dtype: torch.dtype, float_labels: bool) -> Split:
    labels = torch.tensor([0, 1, 1, 0])
    y = labels.to(dtype) if float_labels else labels
    return Split(_inputs(name, 4, 1, dtype), y.clone(), _inputs(name, 4, 2, dtype), y.clone())


def _logit_gradients(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """z_i and ∇_θ z_i (one autograd call per example, float64): the hand computation's input."""
    params = [p for p in model.parameters() if p.requires_grad]
    zs, grads = [], []
    for xi in x:
        z = model(xi.unsqueeze(0))[0]
        zs.append(float(z.detach()))
        grads.append(torch.cat([g.flatten() for g in torch.autograd.grad(z, params)]).double())
    return torch.tensor(zs, dtype=torch.float64), torch.stack(grads)


def _hand_stiffness(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """∇_θ BCE_i = (σ(z_i) − y_i) ∇_θ z_i; within = mean over the two classes of the cosine of
    their one pair, between = mean over the four cross pairs (C(0,1) = C(1,0)). Since
    σ(z) − y is > 0 for y = 0 and < 0 for y = 1, the cosine is ± the normalised NTK entry."""
    z, dz = _logit_gradients(model, x)
    g = (torch.sigmoid(z) - y.double()).unsqueeze(1) * dz
    labels = y.long().tolist()
    cos = {(i, j): float(g[i] @ g[j] / (g[i].norm() * g[j].norm()))
           for i, j in itertools.combinations(range(4), 2)}
    within = [(i, j) for i, j in cos if labels[i] == labels[j]]
    between = [(i, j) for i, j in cos if labels[i] != labels[j]]
    assert len(within) == 2 and len(between) == 4
    sign = {k: math.copysign(1.0, v) for k, v in cos.items()}
    return {"stiffness_within_cos": sum(cos[k] for k in within) / 2,
            "stiffness_between_cos": sum(cos[k] for k in between) / 4,
            "stiffness_within_sign": sum(sign[k] for k in within) / 2,
            "stiffness_between_sign": sum(sign[k] for k in between) / 4}


@pytest.mark.parametrize("float_labels", [True, False])
@pytest.mark.parametrize(("name", "dtype"), [("loukas_mlp", torch.float64),
                                             ("loukas_cnn", torch.float32)])
def test_stiffness_of_a_bce_binary_classifier_by_hand(name, dtype, float_labels):
    model = _model(name, dtype)
    split = _split(name, dtype, float_labels)
    config = {"stiffness": {"train_per_class": 2, "val_per_class": 2, "n_bins": 2}}
    rows = run_probe("stiffness", model, split, config, loss="bce")
    vv = {r["metric"]: r["value"] for r in rows if r["split"] == "vv"}
    expected = _hand_stiffness(model, split.x_test, split.y_test)
    tolerance = 1e-9 if dtype == torch.float64 else 1e-4
    for metric, value in expected.items():
        assert vv[metric] == pytest.approx(value, abs=tolerance), metric
    # two classes: the 2 × 2 class matrix, its off-diagonal entries equal (C(0,1) = C(1,0))
    assert {f"class_cos_{a}_{b}" for a in (0, 1) for b in (0, 1)} <= set(vv)
    assert vv["class_cos_0_1"] == pytest.approx(vv["class_cos_1_0"], abs=tolerance)
    assert "xi_fit" in vv and "xi_fit_status" in vv


@pytest.mark.parametrize(("name", "dtype"), [("loukas_mlp", torch.float64),
                                             ("loukas_cnn", torch.float32)])
def test_lipschitz_and_gc_of_a_scalar_classifier(name, dtype):
    model = _model(name, dtype)
    x = _inputs(name, 4, 3, dtype)
    hand = []
    for xi in x:  # ‖∇_x z(x_i)‖ by one autograd call per example
        xi = xi.unsqueeze(0).requires_grad_(True)
        (gradient,) = torch.autograd.grad(model(xi)[0], xi)
        hand.append(gradient.double().norm())
    hand = torch.stack(hand)
    split = Split(x, torch.zeros(4, dtype=dtype), x, torch.zeros(4, dtype=dtype))
    for probe, expected in (("lipschitz", hand), ("geometric_complexity", hand**2)):
        assert PROBES[probe].inputs == ("train", "test")
        rows = run_probe(probe, model, split, {})
        got = {(r["split"], r["metric"]): r["value"] for r in rows}
        assert len(rows) == 4  # mean and max on each of train and test
        for split_name in ("train", "test"):  # the same inputs in both sets here
            for stat, value in (("mean", expected.mean()), ("max", expected.max())):
                assert got[(split_name, f"{probe}_{stat}")] == pytest.approx(
                    float(value), rel=1e-9 if dtype == torch.float64 else 1e-4)
