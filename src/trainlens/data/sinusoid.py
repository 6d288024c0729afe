"""The loukas2021 E1a generator: a 2-D sinusoid embedded in 10 dimensions
(docs/protocols/loukas2021.md §3 E1a, §2b P-g).

u ~ U([-1, 1]^2), y = cos(2πf·u1)·cos(2πf·u2), x = s·Q·[u; 0_8] with Q the orthogonal factor of
QR(randn(10, 10)/√10). The paper embeds the data "isometrically", so the primary scale is s = 1;
the official code's s = 10 is a labelled variant experiment (``data.embed_scale: 10``). E1c (a
suite addition, §3) uses the binary targets y = 1[cos(2πf·u1)·cos(2πf·u2) > 0] with the training
labels corrupted by the E1b rule. The atlas study (issue 29) adds ``data.target_noise`` σ: fixed
Gaussian noise σ·N(0, 1) on the regression targets of the training set only, fixed per seed.
Data and Q are redrawn for every seed; Q is returned in
``extras`` so that grid probes (E2, far-field Lipschitz) embed with the run's own Q (pitfall P18).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from trainlens.data.base import Split
from trainlens.data.corruption import check_label_corruption, corrupt_binary_labels


@dataclass(frozen=True)
class SinusoidConfig:
    """E1a data. ``n_test`` defaults to ⌊test_fraction·n_train⌋ as in the official code."""

    name: str = "sinusoid"
    n_train: int = 100
    frequency: float = 0.25
    test_fraction: float = 0.3
    embed_dim: int = 10
    embed_scale: float = 1.0  # isometric, the paper's text (P-g); 10 = the official code
    target: str = "regression"  # or "binary": y = 1[cos·cos > 0] (E1c)
    label_corruption: float = 0.0  # p of the E1b rule, binary targets only (data/corruption.py)
    target_noise: float = 0.0  # σ of fixed Gaussian noise on the training targets (regression)

    def __post_init__(self) -> None:
        if self.n_train < 1:
            raise ValueError(f"data.n_train must be >= 1, got {self.n_train}")
        if not 0 < self.test_fraction < 1:
            raise ValueError(f"data.test_fraction must be in (0, 1), got {self.test_fraction}")
        if self.frequency <= 0 or self.embed_scale <= 0:
            raise ValueError(f"data.frequency and data.embed_scale must be > 0, got "
                             f"{self.frequency}, {self.embed_scale}")
        if self.embed_dim < 2:
            raise ValueError(f"data.embed_dim must be >= 2 (the latent plane), "
                             f"got {self.embed_dim}")
        if self.target not in ("regression", "binary"):
            raise ValueError(f"data.target must be 'regression' or 'binary', got {self.target!r}")
        check_label_corruption(self.label_corruption, self.target == "binary",
                               "data.target: binary")
        if not self.target_noise >= 0:
            raise ValueError(f"data.target_noise must be >= 0, got {self.target_noise}")
        if self.target_noise > 0 and self.target != "regression":
            raise ValueError("data.target_noise needs data.target: regression (binary labels "
                             "take data.label_corruption instead)")


def target(u: np.ndarray, frequency: float) -> np.ndarray:
    """y = cos(2πf·u1)·cos(2πf·u2) for latent points ``u`` of shape (n, 2)."""
    return np.cos(2 * np.pi * frequency * u[:, 0]) * np.cos(2 * np.pi * frequency * u[:, 1])


def embed(u: np.ndarray, q: np.ndarray, scale: float) -> np.ndarray:
    """x = scale·Q·[u; 0]: latent (n, 2) points into the ``q.shape[0]``-dimensional input space."""
    padded = np.zeros((u.shape[0], q.shape[0]))
    padded[:, :2] = u
    return scale * padded @ q.T


def random_orthogonal(dim: int, rng: np.random.Generator) -> np.ndarray:
    """The orthogonal factor of QR(randn(dim, dim)/√dim), as in the official generator."""
    q, _ = np.linalg.qr(rng.standard_normal((dim, dim)) / np.sqrt(dim))
    return q


def load(config: SinusoidConfig, rng: np.random.Generator, data_root: Path) -> Split:
    """Draw Q, the train and the test set from the run's data stream (``data_root`` unused)."""
    q = random_orthogonal(config.embed_dim, rng)
    n_test = int(np.floor(config.test_fraction * config.n_train))
    u_train = rng.uniform(-1.0, 1.0, size=(config.n_train, 2))
    u_test = rng.uniform(-1.0, 1.0, size=(n_test, 2))

    def tensors(u: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        x = embed(u, q, config.embed_scale)
        y = target(u, config.frequency)
        if config.target == "binary":
            y = (y > 0).astype(np.float64)
        return torch.from_numpy(x), torch.from_numpy(y)

    x_train, y_train = tensors(u_train)
    x_test, y_test = tensors(u_test)
    if config.label_corruption > 0:  # training labels only; the test set stays clean
        y_train = corrupt_binary_labels(y_train, config.label_corruption)
    if config.target_noise > 0:  # drawn after every other draw: σ = 0 runs keep their data
        y_train = y_train + config.target_noise * torch.from_numpy(
            rng.standard_normal(config.n_train))
    return Split(x_train, y_train, x_test, y_test,
                 extras={"Q": q, "u_train": u_train, "embed_scale": np.array(config.embed_scale)})


def far_field_latent(points: int = 41, outer: float = 3.0, inner: float = 1.0) -> np.ndarray:
    """The latent grid of loukas2021 §4.4: ``points``² over [−outer, outer]² minus [−inner, inner]²
    (the square the training data is drawn from), shape (n, 2)."""
    u = latent_grid(points, outer)
    return u[np.abs(u).max(axis=1) > inner]


def latent_grid(points: int, extent: float = 1.0) -> np.ndarray:
    """``points``² latent points on [−extent, extent]², u1 varying slowest, shape (n, 2)."""
    axis = np.linspace(-extent, extent, points)
    return np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2)


def embed_like(split: Split, u: np.ndarray) -> torch.Tensor:
    """Latent points embedded with the run's own Q and scale (pitfall P18), as model inputs."""
    x = embed(u, split.extras["Q"], float(split.extras["embed_scale"]))
    return torch.from_numpy(x).to(split.x_train)


def far_field_inputs(split: Split) -> dict[str, torch.Tensor]:
    """Far-field grid points embedded with the run's own Q (pitfall P18), as model inputs."""
    return {"far_field": embed_like(split, far_field_latent())}
