"""The two built-in generators: sklearn digits (fixed split) and the loukas2021 E1a sinusoid.

Digit labels are checked by matching every returned image back to sklearn's own array; sinusoid
targets and embeddings are recomputed here from the formulas of docs/protocols/loukas2021.md §3 E1a.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from trainlens.data.digits import DigitsConfig
from trainlens.data.digits import load as load_digits_split
from trainlens.data.sinusoid import SinusoidConfig
from trainlens.data.sinusoid import load as load_sinusoid

DIGITS = load_digits()
NOWHERE = Path("/nonexistent")


def source_rows(x) -> list[int]:
    """Index into sklearn's digits of each returned (8x8, flat, unnormalised) image."""
    lookup = {row.tobytes(): i for i, row in enumerate(DIGITS.data)}
    return [lookup[(row * 16).tobytes()] for row in x.numpy().astype(np.float64)]


@pytest.mark.parametrize("classes", [(0, 5), (5, 0)])
def test_classes_relabel_in_given_order(classes: tuple[int, int]) -> None:
    split = load_digits_split(DigitsConfig(classes=classes, n_train=20, n_test=10, per_class=True),
                              None, NOWHERE)
    for x, y in ((split.x_train, split.y_train), (split.x_test, split.y_test)):
        digits = DIGITS.target[source_rows(x)]
        assert set(digits) == set(classes)
        assert y.tolist() == [classes.index(d) for d in digits]


def test_reversed_classes_same_images_flipped_labels() -> None:
    a = load_digits_split(DigitsConfig(classes=(0, 5), n_train=9, per_class=True), None, NOWHERE)
    b = load_digits_split(DigitsConfig(classes=(5, 0), n_train=9, per_class=True), None, NOWHERE)
    assert np.array_equal(a.x_train.numpy(), b.x_train.numpy())
    assert (a.y_train + b.y_train == 1).all()


def test_per_class_counts_and_disjoint_split() -> None:
    split = load_digits_split(DigitsConfig(classes=(3, 6, 8), n_train=7, n_test=4, per_class=True),
                              None, NOWHERE)
    assert np.bincount(split.y_train.numpy()).tolist() == [7, 7, 7]
    assert np.bincount(split.y_test.numpy()).tolist() == [4, 4, 4]
    assert not set(source_rows(split.x_train)) & set(source_rows(split.x_test))


def test_total_counts_without_per_class() -> None:
    split = load_digits_split(DigitsConfig(n_train=50, n_test=30), None, NOWHERE)
    assert split.x_train.shape == (50, 64) and split.x_test.shape == (30, 64)


def test_upsampled_three_channel_normalised_images() -> None:
    config = DigitsConfig(classes=(0, 5), n_train=10, n_test=5, per_class=True, image_size=32,
                          channels=3, normalize=True, flatten=False)
    split = load_digits_split(config, None, NOWHERE)
    x = split.x_train.numpy()
    assert x.shape == (20, 3, 32, 32) and split.x_test.shape == (10, 3, 32, 32)
    assert x.min() >= -1 and x.max() <= 1
    assert x.min() == -1  # blank background pixels 0/16 map to -1
    assert np.array_equal(x[:, 0], x[:, 1]) and np.array_equal(x[:, 0], x[:, 2])
    # bilinear upsampling by 4 keeps the mean intensity of each image (up to edge effects)
    native = load_digits_split(DigitsConfig(classes=(0, 5), n_train=10, n_test=5, per_class=True),
                               None, NOWHERE).x_train.numpy()
    np.testing.assert_allclose((x[:, 0] + 1).mean(axis=(1, 2)) / 2, native.mean(axis=1), atol=0.03)


def test_split_does_not_depend_on_the_run_rng() -> None:
    config = DigitsConfig(classes=(1, 7), n_train=15, n_test=5, per_class=True)
    a = load_digits_split(config, np.random.default_rng(0), NOWHERE)
    b = load_digits_split(config, np.random.default_rng(12345), NOWHERE)
    assert np.array_equal(a.x_train.numpy(), b.x_train.numpy())
    assert np.array_equal(a.y_test.numpy(), b.y_test.numpy())


@pytest.mark.parametrize("config", [
    DigitsConfig(classes=(0, 5), n_train=150, n_test=50, per_class=True),  # ~180 per digit
    DigitsConfig(n_train=1500, n_test=400),  # 1797 in all
])
def test_too_many_requested_raises(config: DigitsConfig) -> None:
    with pytest.raises(ValueError, match="exceeds"):
        load_digits_split(config, None, NOWHERE)


@pytest.mark.parametrize("n_train", [30, 37, 100])
def test_sinusoid_shapes(n_train: int) -> None:
    split = load_sinusoid(SinusoidConfig(n_train=n_train), np.random.default_rng(0), NOWHERE)
    n_test = (3 * n_train) // 10
    assert split.x_train.shape == (n_train, 10) and split.y_train.shape == (n_train,)
    assert split.x_test.shape == (n_test, 10) and split.y_test.shape == (n_test,)


@pytest.mark.parametrize("scale", [1.0, 10.0])  # the paper's isometric x = Q[u; 0], the code's 10·
def test_sinusoid_embedding_and_target(scale: float) -> None:
    f = 0.75
    split = load_sinusoid(SinusoidConfig(n_train=50, frequency=f, embed_scale=scale),
                          np.random.default_rng(3), NOWHERE)
    q, u = split.extras["Q"], split.extras["u_train"]
    np.testing.assert_allclose(q.T @ q, np.eye(10), atol=1e-12)
    assert u.shape == (50, 2) and np.abs(u).max() <= 1
    x = split.x_train.numpy()
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), scale * np.linalg.norm(u, axis=1),
                               rtol=1e-12)
    np.testing.assert_allclose(x @ q[:, :2] / scale, u, atol=1e-12)  # x = scale·Q[u; 0]
    expected = np.cos(2 * np.pi * f * u[:, 0]) * np.cos(2 * np.pi * f * u[:, 1])
    np.testing.assert_allclose(split.y_train.numpy(), expected, rtol=0, atol=1e-12)
    # test points lie in the same 2-D plane: no component along Q's other columns
    np.testing.assert_allclose(split.x_test.numpy() @ q[:, 2:], 0, atol=1e-10)


def test_sinusoid_default_embedding_is_isometric() -> None:
    # docs/protocols/loukas2021.md §2b P-g: pairwise distances in the latent plane are kept
    split = load_sinusoid(SinusoidConfig(n_train=12), np.random.default_rng(1), NOWHERE)
    u, x = split.extras["u_train"], split.x_train.numpy()
    np.testing.assert_allclose(np.linalg.norm(x[:, None] - x[None], axis=2),
                               np.linalg.norm(u[:, None] - u[None], axis=2), atol=1e-12)


def test_sinusoid_same_seed_same_data_different_seed_different() -> None:
    config = SinusoidConfig(n_train=20)
    a, b, c = (load_sinusoid(config, np.random.default_rng(s), NOWHERE) for s in (4, 4, 5))
    for name in ("x_train", "y_train", "x_test", "y_test"):
        assert np.array_equal(getattr(a, name).numpy(), getattr(b, name).numpy())
        assert not np.array_equal(getattr(a, name).numpy(), getattr(c, name).numpy())
    assert not np.allclose(a.extras["Q"], c.extras["Q"])


def test_sinusoid_target_noise_moves_only_training_targets_by_the_next_draws() -> None:
    # issue 29: σ·N(0, 1) on the training targets, drawn from the data stream after every
    # existing draw, so the rest of the split, and σ = 0 runs, are unchanged
    clean_rng = np.random.default_rng(8)
    clean = load_sinusoid(SinusoidConfig(n_train=40), clean_rng, NOWHERE)
    zero = load_sinusoid(SinusoidConfig(n_train=40, target_noise=0.0), np.random.default_rng(8),
                         NOWHERE)
    noisy = load_sinusoid(SinusoidConfig(n_train=40, target_noise=0.3), np.random.default_rng(8),
                          NOWHERE)
    for name in ("x_train", "y_train", "x_test", "y_test"):
        assert np.array_equal(getattr(zero, name).numpy(), getattr(clean, name).numpy())
    for name in ("x_train", "x_test", "y_test"):
        assert np.array_equal(getattr(noisy, name).numpy(), getattr(clean, name).numpy())
    assert np.array_equal(noisy.extras["Q"], clean.extras["Q"])
    next_draws = clean_rng.standard_normal(40)  # what the clean run's stream would draw next
    np.testing.assert_allclose(noisy.y_train.numpy() - clean.y_train.numpy(), 0.3 * next_draws,
                               rtol=0, atol=1e-15)
    other_seed = load_sinusoid(SinusoidConfig(n_train=40, target_noise=0.3),
                               np.random.default_rng(9), NOWHERE)
    assert not np.array_equal(other_seed.y_train.numpy(), noisy.y_train.numpy())


def test_sinusoid_target_noise_refuses_binary_targets_and_negative_sigma() -> None:
    with pytest.raises(ValueError, match="target_noise needs data.target: regression"):
        SinusoidConfig(target="binary", target_noise=0.1)
    with pytest.raises(ValueError, match="target_noise must be >= 0"):
        SinusoidConfig(target_noise=-0.1)
    SinusoidConfig(target="binary", target_noise=0.0)  # 0: nothing to refuse
