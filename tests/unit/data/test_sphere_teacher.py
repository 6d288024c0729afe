"""nakazato2024 data: unit-norm inputs, teacher labels, exactly round(qN) flips (own stream)."""

from __future__ import annotations

import numpy as np
import pytest

from trainlens.data.sphere_teacher import SphereTeacherConfig, load
from trainlens.training.seeds import RunStreams


def _load(q: float, seed: int = 0):
    return load(SphereTeacherConfig(n_train=40, label_flip=q), RunStreams(seed).numpy("data"),
                None)


def test_points_lie_on_the_sphere_and_follow_the_teacher():
    split = _load(0.0)
    x, y = split.x_train.numpy(), split.y_train.numpy()
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0)
    np.testing.assert_array_equal(y, np.where(x @ split.extras["teacher"] >= 0, 1.0, -1.0))
    assert split.x_test.shape == (0, 8)


def test_flips_change_exactly_round_qn_labels_and_nothing_else():
    clean, noisy = _load(0.0), _load(0.25)
    np.testing.assert_array_equal(clean.x_train.numpy(), noisy.x_train.numpy())
    changed = np.flatnonzero(clean.y_train.numpy() != noisy.y_train.numpy())
    np.testing.assert_array_equal(changed, noisy.extras["flipped"])
    assert len(changed) == 10


def test_seeds_give_different_data():
    assert not np.allclose(_load(0.0, 0).x_train.numpy(), _load(0.0, 1).x_train.numpy())


def test_bad_flip_fraction_names_the_key():
    with pytest.raises(ValueError, match="data.label_flip"):
        SphereTeacherConfig(label_flip=1.5)
