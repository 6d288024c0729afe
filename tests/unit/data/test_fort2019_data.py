"""fort2019 inputs: the standardize_unit_norm preprocessing (docs/protocols/fort2019.md §3, §7
pitfall 8), the digits
loader's ``preprocess`` switch, and the E3 smoke hierarchical Gaussian mixture.

Expected values are recomputed here with numpy from the protocol's wording; the pre-existing digits
output is pinned against sklearn's array and the fixed split permutation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from trainlens.data import DATASETS
from trainlens.data.digits import DigitsConfig
from trainlens.data.digits import load as load_digits_split
from trainlens.data.hierarchical_mixture import (
    HierarchicalMixtureConfig,
    class_centres,
    superclass_of,
)
from trainlens.data.hierarchical_mixture import load as load_mixture
from trainlens.data.preprocess import PREPROCESSING, preprocess

NOWHERE = Path("/nonexistent")
SUN = "standardize_unit_norm"


def reference(x_train: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The rule in numpy: train mean/std per feature, features constant in training set to 0
    (the suite's deviation from the protocol's std clamp), then norm 1."""
    flat_train, flat = x_train.reshape(len(x_train), -1), x.reshape(len(x), -1)
    std = flat_train.std(0)
    z = np.where(std >= 1e-8, (flat - flat_train.mean(0)) / np.maximum(std, 1e-8), 0.0)
    return (z / np.linalg.norm(z, axis=1, keepdims=True)).reshape(x.shape)


def norms(x: torch.Tensor) -> np.ndarray:
    return np.linalg.norm(x.reshape(len(x), -1).double().numpy(), axis=1)


def images(seed: int, n: int, border: bool = True) -> torch.Tensor:
    """NCHW float64 inputs with unequal feature scales and, with ``border``, a constant first
    row (std 0, as the border pixels of MNIST)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3, 4, 5)) * rng.uniform(0.1, 10, size=(3, 4, 5)) + 2.0
    if border:
        x[:, :, 0, :] = 0.25
    return torch.from_numpy(x)


def test_unit_norm_shape_dtype_and_reference() -> None:
    x_train, x_test = images(0, 40), images(1, 15)
    out_train, out_test = preprocess(x_train, x_test, SUN)
    assert out_train.shape == x_train.shape and out_test.shape == x_test.shape
    assert out_train.dtype == out_test.dtype == torch.float64
    np.testing.assert_allclose(norms(out_train), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(norms(out_test), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out_train.numpy(), reference(x_train.numpy(), x_train.numpy()),
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(out_test.numpy(), reference(x_train.numpy(), x_test.numpy()),
                               rtol=0, atol=1e-12)


def test_float32_in_float32_out() -> None:
    out_train, out_test = preprocess(images(0, 40).float(), images(1, 15).float(), SUN)
    assert out_train.dtype == out_test.dtype == torch.float32
    np.testing.assert_allclose(norms(out_test), 1.0, rtol=0, atol=1e-6)


def test_per_feature_affine_maps_are_removed() -> None:
    """Standardisation per feature: a positive scale and a shift of each feature, applied to
    both splits, leave the output unchanged (up to rounding). No constant feature here: its
    rounding noise (~1e-15) after the map would be divided by the 1e-8 std floor."""
    x_train, x_test = images(2, 30, border=False), images(3, 10, border=False)
    rng = np.random.default_rng(4)
    scale = torch.from_numpy(rng.uniform(0.01, 100, size=(3, 4, 5)))
    shift = torch.from_numpy(rng.normal(scale=50, size=(3, 4, 5)))
    a = preprocess(x_train, x_test, SUN)
    b = preprocess(x_train * scale + shift, x_test * scale + shift, SUN)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_allclose(u.numpy(), v.numpy(), rtol=0, atol=1e-9)


def test_statistics_come_from_the_training_split_only() -> None:
    x_train, x_test = images(5, 30), images(6, 10)
    shifted = x_test + 3.0
    train_a, test_a = preprocess(x_train, x_test, SUN)
    train_b, test_b = preprocess(x_train, shifted, SUN)
    assert torch.equal(train_a, train_b)  # the test split never moves the training output
    np.testing.assert_allclose(test_b.numpy(), reference(x_train.numpy(), shifted.numpy()),
                               rtol=0, atol=1e-12)
    # Statistics pooled over train + shifted test would give a different test output.
    pooled = torch.cat([x_train, shifted])
    _, test_pooled = preprocess(pooled, shifted, SUN)
    assert (test_pooled - test_b).abs().max() > 0.05
    # A test example equal to a training example maps to the same vector.
    _, test_copy = preprocess(x_train, x_train[:3], SUN)
    assert torch.equal(test_copy, train_a[:3])


def test_constant_features_and_zero_vectors_give_no_nan() -> None:
    x_train = torch.tensor([[0.0, 1.0, 5.0], [2.0, 1.0, 5.0], [4.0, 1.0, 5.0]])
    x_test = torch.tensor([[2.0, 1.0, 5.0],  # every feature at its training mean -> zero vector
                           [3.0, 1.0, 5.0],
                           [2.0, 1.0, 6.0]])  # constant in training, not here: set to 0
    out_train, out_test = preprocess(x_train, x_test, SUN)
    assert torch.isfinite(out_train).all() and torch.isfinite(out_test).all()
    assert out_test[0].tolist() == [0.0, 0.0, 0.0]
    # the constant features standardise to 0, so the first feature carries the whole norm
    assert out_train.tolist() == [[-1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]
    assert out_test[1].tolist() == [1.0, 0.0, 0.0]
    # not the protocol's ~1e8 (std clamped at 1e-8), which made such test images one-hot outliers
    assert out_test[2].tolist() == [0.0, 0.0, 0.0]


def test_none_returns_the_inputs_and_bad_values_raise() -> None:
    x_train, x_test = images(0, 4), images(1, 2)
    out = preprocess(x_train, x_test, "none")
    assert out[0] is x_train and out[1] is x_test
    assert PREPROCESSING == ("none", SUN)
    with pytest.raises(ValueError, match=r"data\.preprocess must be one of .*'zscore'"):
        preprocess(x_train, x_test, "zscore")
    with pytest.raises(TypeError, match="floating-point"):
        preprocess(torch.ones(3, 2, dtype=torch.int64), torch.ones(1, 2, dtype=torch.int64), SUN)
    with pytest.raises(ValueError, match="matching example shapes"):
        preprocess(x_train, x_test.reshape(2, -1), SUN)


def test_digits_without_preprocess_are_unchanged() -> None:
    """The default (preprocess "none") still returns pixels/16 of the fixed split_seed split."""
    config = DigitsConfig(n_train=1200, n_test=597)
    split = load_digits_split(config, None, NOWHERE)
    assert config.preprocess == "none"
    order = np.random.default_rng(123).permutation(1797)
    data = load_digits().data
    assert split.x_train.dtype == torch.float64
    np.testing.assert_array_equal(split.x_train.numpy(), data[order[:1200]] / 16.0)
    np.testing.assert_array_equal(split.x_test.numpy(), data[order[1200:]] / 16.0)


@pytest.mark.parametrize("shape", [{}, {"image_size": 16, "channels": 3, "flatten": False}])
def test_digits_standardize_unit_norm_on_final_tensors(shape: dict) -> None:
    plain = load_digits_split(DigitsConfig(n_train=1200, n_test=597, **shape), None, NOWHERE)
    done = load_digits_split(DigitsConfig(n_train=1200, n_test=597, preprocess=SUN, **shape),
                             None, NOWHERE)
    assert done.x_train.shape == plain.x_train.shape and done.x_train.dtype == torch.float64
    assert torch.equal(done.y_train, plain.y_train) and torch.equal(done.y_test, plain.y_test)
    for x, x_plain in ((done.x_train, plain.x_train), (done.x_test, plain.x_test)):
        assert torch.isfinite(x).all()  # load_digits has constant border pixels (pitfall 8)
        np.testing.assert_allclose(norms(x), 1.0, rtol=0, atol=1e-12)
        np.testing.assert_allclose(x.numpy(), reference(plain.x_train.numpy(), x_plain.numpy()),
                                   rtol=0, atol=1e-12)


def test_mixture_shapes_labels_and_superclass_map() -> None:
    config = HierarchicalMixtureConfig()
    split = load_mixture(config, np.random.default_rng(0), NOWHERE)
    assert split.x_train.shape == (600, 64) and split.x_test.shape == (600, 64)
    assert split.x_train.dtype == torch.float64 and split.y_train.dtype == torch.int64
    assert np.bincount(split.y_train.numpy()).tolist() == [30] * 20
    assert np.bincount(split.y_test.numpy()).tolist() == [30] * 20
    superclass = split.extras["superclass"]
    assert superclass.dtype == np.int64
    assert superclass.tolist() == [c // 5 for c in range(20)]
    np.testing.assert_allclose(norms(split.x_train), 1.0, rtol=0, atol=1e-12)  # default SUN
    np.testing.assert_allclose(norms(split.x_test), 1.0, rtol=0, atol=1e-12)
    small = HierarchicalMixtureConfig(n_super=2, classes_per_super=3, n_train_per_class=4,
                                      n_test_per_class=2, input_dim=7)
    split = load_mixture(small, np.random.default_rng(0), NOWHERE)
    assert split.x_train.shape == (24, 7) and split.x_test.shape == (12, 7)
    assert split.extras["superclass"].tolist() == [0, 0, 0, 1, 1, 1]


def class_means(x: torch.Tensor, y: torch.Tensor, n_classes: int) -> np.ndarray:
    return np.stack([x[y == c].numpy().mean(0) for c in range(n_classes)])


def test_mixture_same_centres_across_seeds_different_points() -> None:
    config = HierarchicalMixtureConfig(preprocess="none")
    centres = class_centres(config)
    a = load_mixture(config, np.random.default_rng(0), NOWHERE)
    b = load_mixture(config, np.random.default_rng(1), NOWHERE)
    again = load_mixture(config, np.random.default_rng(0), NOWHERE)
    assert torch.equal(a.x_train, again.x_train) and torch.equal(a.x_test, again.x_test)
    assert not torch.equal(a.x_train, b.x_train) and not torch.equal(a.x_test, b.x_test)
    assert not torch.equal(a.x_train, a.x_test)
    for split in (a, b):
        for x, y in ((split.x_train, split.y_train), (split.x_test, split.y_test)):
            means = class_means(x, y, 20)
            # mean of 30 unit-variance points: about sqrt(64/30) = 1.5 from its centre
            offsets = np.linalg.norm(means - centres, axis=1)
            assert offsets.max() < 3.0
            nearest = np.linalg.norm(means[:, None] - centres[None], axis=-1).argmin(axis=1)
            assert nearest.tolist() == list(range(20))
            residual = x.numpy() - centres[y.numpy()]
            assert abs(residual.std() - config.noise) < 0.05
    assert DATASETS["hierarchical_mixture"].varies_with_seed
    assert DATASETS["hierarchical_mixture"].config_cls is HierarchicalMixtureConfig
    other = class_centres(HierarchicalMixtureConfig(structure_seed=8))
    assert np.abs(other - centres).min() > 0


def mean_distances(d: np.ndarray, superclass: np.ndarray) -> tuple[float, float]:
    """Mean of ``d`` over distinct-class pairs in the same super-class, and across super-classes."""
    same = superclass[:, None] == superclass[None]
    off_diagonal = ~np.eye(len(superclass), dtype=bool)
    return float(d[same & off_diagonal].mean()), float(d[~same].mean())


def test_mixture_within_superclass_centres_are_closer() -> None:
    config = HierarchicalMixtureConfig()
    superclass = superclass_of(config)
    centres = class_centres(config)
    within, between = mean_distances(
        np.linalg.norm(centres[:, None] - centres[None], axis=-1), superclass)
    # expected sqrt(64 * 2 * 1.5^2) = 17.0 vs sqrt(64 * 2 * (3^2 + 1.5^2)) = 37.9
    assert within < 0.6 * between
    # and on the preprocessed vectors the network sees, in fort2019's cosine input distance
    split = load_mixture(config, np.random.default_rng(3), NOWHERE)
    means = class_means(split.x_train, split.y_train, config.n_classes)
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    within, between = mean_distances(1 - means @ means.T, superclass)
    assert within < 0.6 * between


@pytest.mark.parametrize(("kwargs", "key"), [
    ({"input_dim": 0}, "data.input_dim"),
    ({"n_super": 0}, "data.n_super"),
    ({"classes_per_super": 2.5}, "data.classes_per_super"),
    ({"n_train_per_class": True}, "data.n_train_per_class"),
    ({"n_test_per_class": -1}, "data.n_test_per_class"),
    ({"n_super": 1, "classes_per_super": 1}, "data.n_super"),
    ({"super_scale": -1.0}, "data.super_scale"),
    ({"class_scale": float("inf")}, "data.class_scale"),
    ({"noise": 0.0}, "data.noise"),
    ({"structure_seed": -3}, "data.structure_seed"),
    ({"preprocess": "standardize"}, "data.preprocess"),
])
def test_mixture_config_validation(kwargs: dict, key: str) -> None:
    with pytest.raises(ValueError, match=key):
        HierarchicalMixtureConfig(**kwargs)


def test_digits_config_rejects_unknown_preprocess() -> None:
    with pytest.raises(ValueError, match=r"data\.preprocess must be one of \['none', "
                                         r"'standardize_unit_norm'\], got 'unit_norm'"):
        DigitsConfig(preprocess="unit_norm")
