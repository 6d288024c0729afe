"""The loukas2021 label-corruption rule (spec §3 E1b, P17): mask U ≤ p, masked labels redrawn
uniformly from {0, 1} (flip rate p/2), one fixed mask for every repeat, test labels clean."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from trainlens.data.corruption import corrupt_binary_labels
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
