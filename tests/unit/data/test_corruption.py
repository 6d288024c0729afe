"""The loukas2021 label-corruption rule (docs/protocols/loukas2021.md §3 E1b, P17): mask U ≤ p,
masked labels redrawn
uniformly from {0, 1} (flip rate p/2), one fixed mask for every repeat, test labels clean; and
dherin2022's label-noise SGD, checked by counting changed labels per minibatch and step."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from trainlens.data.corruption import (
    corrupt_binary_labels,
    gaussian_target_noise,
    label_noise_sgd,
    noisy_targets,
)
from trainlens.data.digits import DigitsConfig
from trainlens.data.digits import load as load_digits_split
from trainlens.data.sinusoid import SinusoidConfig
from trainlens.data.sinusoid import load as load_sinusoid


@pytest.mark.parametrize("p", [0.2, 0.6, 1.0])
def test_flip_rate_is_half_of_p(p: float) -> None:
    labels = torch.from_numpy(np.random.default_rng(0).integers(0, 2, 200_000))
    flipped = (corrupt_binary_labels(labels, p) != labels).double().mean().item()
    # binomial standard error at n = 200k is ~1e-3; 5e-3 is five of them
    assert abs(flipped - p / 2) < 5e-3


def test_mask_is_fixed_and_nested_over_p() -> None:
    labels = torch.zeros(5000, dtype=torch.int64)
    changed = {p: corrupt_binary_labels(labels, p) != labels for p in (0.2, 0.4, 0.6)}
    assert torch.equal(corrupt_binary_labels(labels, 0.4), corrupt_binary_labels(labels, 0.4))
    assert not (changed[0.2] & ~changed[0.4]).any() and not (changed[0.4] & ~changed[0.6]).any()
    assert corrupt_binary_labels(labels, 0.0).equal(labels)


def test_non_binary_labels_and_bad_p_are_rejected() -> None:
    with pytest.raises(ValueError, match="binary labels"):
        corrupt_binary_labels(torch.tensor([0, 1, 2]), 0.5)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        corrupt_binary_labels(torch.tensor([0, 1]), 1.5)


def test_sinusoid_binary_targets_corrupt_train_only_same_for_every_seed() -> None:
    def split(p: float, seed: int):
        config = SinusoidConfig(n_train=400, target="binary", label_corruption=p)
        return load_sinusoid(config, np.random.default_rng(seed), Path("."))

    clean, noisy = split(0.0, 1), split(0.6, 1)
    u = clean.extras["u_train"]
    expected = (np.cos(2 * np.pi * 0.25 * u[:, 0]) * np.cos(2 * np.pi * 0.25 * u[:, 1]) > 0)
    assert np.array_equal(clean.y_train.numpy(), expected.astype(float))
    assert torch.equal(clean.y_test, noisy.y_test)
    mask_seed1 = (noisy.y_train != clean.y_train).numpy()
    mask_seed2 = (split(0.6, 2).y_train != split(0.0, 2).y_train).numpy()
    assert 0.2 < mask_seed1.mean() < 0.4  # about p/2 = 0.3
    # one corruption draw (seed 12345) for every repeat: the same positions are redrawn, so the
    # flips differ only where the clean labels do
    same_label = (clean.y_train == split(0.0, 2).y_train).numpy()
    assert np.array_equal(mask_seed1[same_label], mask_seed2[same_label])
    with pytest.raises(ValueError, match="target: binary"):
        SinusoidConfig(label_corruption=0.2)


def test_digits_corruption_needs_two_classes_and_keeps_test_clean() -> None:
    base = dict(classes=(0, 5), n_train=50, n_test=20, per_class=True)
    clean = load_digits_split(DigitsConfig(**base), np.random.default_rng(0), Path("."))
    noisy = load_digits_split(DigitsConfig(**base, label_corruption=0.6),
                              np.random.default_rng(0), Path("."))
    assert torch.equal(clean.x_train, noisy.x_train) and torch.equal(clean.y_test, noisy.y_test)
    assert 0 < (clean.y_train != noisy.y_train).sum() < len(clean.y_train)
    with pytest.raises(ValueError, match="two data.classes"):
        DigitsConfig(classes=(0, 5, 6), label_corruption=0.2)


# dherin2022 label-noise SGD (docs/protocols/dherin2022.md §2b D-b): a fresh share p of every
# minibatch relabelled with another class at every step, a function of (key, step, position).

def _noisy(y: torch.Tensor, p: float, key: int, step: int, k: int = 10) -> torch.Tensor:
    return label_noise_sgd(y[None], [p], [key], step, k)[0]


def test_label_noise_sgd_changes_exactly_p_b_labels_to_other_classes() -> None:
    y = torch.arange(40) % 10
    for step in range(1, 200):
        noisy = _noisy(y, 0.25, key=7, step=step)  # p·B = 10 exactly
        changed = noisy != y
        assert int(changed.sum()) == 10  # counted by hand: a fraction p of B = 40
        assert ((noisy >= 0) & (noisy < 10)).all()


def test_label_noise_sgd_rounds_p_b_at_random_with_the_right_mean() -> None:
    y = torch.zeros(32, dtype=torch.int64)
    counts = np.array([int((_noisy(y, 0.1, key=3, step=s) != y).sum()) for s in range(4000)])
    assert set(counts) == {3, 4}  # ⌊3.2⌋ or ⌈3.2⌉
    # E[count] = p·B = 3.2; the count is 3 + Bernoulli(0.2): std of the mean 0.4/√4000 = 0.0063
    assert abs(counts.mean() - 3.2) < 0.04


def test_label_noise_sgd_is_fresh_each_step_and_reproducible() -> None:
    y = torch.arange(32) % 10
    masks = [(_noisy(y, 0.25, key=11, step=s) != y) for s in range(1, 60)]
    distinct = {tuple(m.tolist()) for m in masks}
    assert len(distinct) > 50  # C(32, 8) ≈ 1e7 subsets: repeats should be rare
    # the same (key, step) draws the same labels, in any order of steps (resumable) ...
    assert torch.equal(_noisy(y, 0.25, key=11, step=30), _noisy(y, 0.25, key=11, step=30))
    assert torch.equal(masks[29], _noisy(y, 0.25, key=11, step=30) != y)
    # ... and another key (another seed's stream) draws other labels
    assert not torch.equal(_noisy(y, 0.25, key=12, step=30), _noisy(y, 0.25, key=11, step=30))


def test_label_noise_sgd_is_uniform_over_positions_and_other_classes() -> None:
    y = torch.zeros(20, dtype=torch.int64)
    noisy = torch.stack([_noisy(y, 0.2, key=5, step=s, k=5) for s in range(1, 5001)])
    per_position = (noisy != 0).double().mean(0)
    # every position chosen with probability p = 0.2; std over 5000 steps 0.0057
    assert (per_position - 0.2).abs().max() < 0.03
    new = noisy[noisy != 0]
    shares = torch.bincount(new, minlength=5).double() / len(new)
    assert shares[0] == 0  # never relabelled with its own class
    assert (shares[1:] - 0.25).abs().max() < 0.015  # 20000 draws, std 0.003


def test_label_noise_sgd_members_are_independent_and_rate_zero_is_clean() -> None:
    y = torch.arange(24).reshape(2, 12) % 4
    both = label_noise_sgd(y, [0.5, 0.0], [1, 2], 9, 4)
    alone = label_noise_sgd(y[:1], [0.5], [1], 9, 4)
    assert torch.equal(both[0], alone[0]) and torch.equal(both[1], y[1])
    with pytest.raises(ValueError):
        label_noise_sgd(y, [1.5, 0.0], [1, 2], 9, 4)
    with pytest.raises(ValueError):
        label_noise_sgd(y, [0.5, 0.0], [None, 2], 9, 4)


# The atlas study's per-step noise (issue 29): fresh Gaussian target noise for regression,
# label-noise SGD on float 0/1 labels for scalar-output BCE.

def test_gaussian_target_noise_is_standard_normal_times_sigma() -> None:
    noise = np.concatenate([gaussian_target_noise([17, 18], [0.5, 2.0], step, 64)
                            for step in range(1, 1001)], axis=1)  # 64000 draws per member
    for row, sigma in zip(noise, (0.5, 2.0)):
        # mean std σ/√64000 (0.002, 0.008): 5 standard errors; std's relative error ~0.3%
        assert abs(row.mean()) < 5 * sigma / np.sqrt(row.size)
        assert abs(row.std() / sigma - 1) < 0.015
        # Gaussian tails: P(|ε| > 2) = 0.0455, P(|ε| > 3) = 0.0027
        assert abs(np.mean(np.abs(row) > 2 * sigma) - 0.0455) < 0.004
        assert abs(np.mean(np.abs(row) > 3 * sigma) - 0.0027) < 0.001
    assert abs(np.corrcoef(noise[0], noise[1])[0, 1]) < 0.02  # members independent


def test_gaussian_target_noise_depends_only_on_key_step_and_position() -> None:
    a = gaussian_target_noise([5, 6], [1.0, 1.0], 40, 8)
    assert np.array_equal(a, gaussian_target_noise([5, 6], [1.0, 1.0], 40, 8))
    assert np.array_equal(a[1], gaussian_target_noise([6], [1.0], 40, 8)[0])  # alone = together
    assert np.array_equal(a[:, :5], gaussian_target_noise([5, 6], [1.0, 1.0], 40, 5))
    assert not np.array_equal(a, gaussian_target_noise([5, 6], [1.0, 1.0], 41, 8))
    assert not np.array_equal(a[0], a[1])
    assert np.array_equal(gaussian_target_noise([5], [0.0], 40, 8), np.zeros((1, 8)))
    with pytest.raises(ValueError, match="label_noise"):
        gaussian_target_noise([5], [-0.1], 40, 8)


def test_noisy_targets_regression_adds_noise_and_keeps_rate_zero_members() -> None:
    y = torch.linspace(-1, 1, 12, dtype=torch.float64).reshape(2, 6)
    noisy = noisy_targets(y, [0.3, 0.0], [3, 4], 7, None)
    expected = y[0].numpy() + gaussian_target_noise([3], [0.3], 7, 6)[0]
    assert np.array_equal(noisy[0].numpy(), expected) and torch.equal(noisy[1], y[1])
    with pytest.raises(ValueError, match="label_noise stream"):
        noisy_targets(y, [0.3, 0.0], [None, 4], 7, None)


def test_noisy_targets_bce_flips_floor_or_ceil_of_p_b_float_labels() -> None:
    y = (torch.arange(10) % 2).to(torch.float32)[None]  # scalar-output BCE labels, K = 2
    counts = []
    for step in range(1, 2001):
        noisy = noisy_targets(y, [0.25], [21], step, 2)
        assert noisy.dtype == torch.float32 and ((noisy == 0) | (noisy == 1)).all()
        counts.append(int((noisy != y).sum()))
    assert set(counts) == {2, 3}  # ⌊2.5⌋ or ⌈2.5⌉, each label flipped to the other class
    assert abs(np.mean(counts) - 2.5) < 0.05  # E = p·B; std of the mean 0.5/√2000 = 0.011
