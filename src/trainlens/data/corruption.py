"""Label corruption: loukas2021 E1b/E1c (docs/protocols/loukas2021.md §3 E1b, pitfall P17),
dherin2022 label noise, and the atlas study's per-step noise of the ensemble trainer (issue 29:
``train.label_noise``, ``noisy_targets``: label-noise SGD for classifiers, fresh Gaussian target
noise for regression, both from the SplitMix64 counters below).

dherin2022 (docs/protocols/dherin2022.md §2b D-b):
- primary E6, label-noise SGD (Blanc et al. 2020; Damian et al. 2021): at every step a fresh
  fraction p of the minibatch is relabelled with a different class (``minibatch_label_shifts``),
  from a generator that depends only on (run seed, step) (``step_generator``);
- the labelled variant of E6 and E9's label noise: a fraction p of the training labels is
  replaced by classes drawn uniformly from all K once, fixed per seed
  (``replace_labels_uniformly``).

loukas2021:

Each training label is masked with probability p (mask = U ≤ p) and a masked label is redrawn
uniformly from {0, 1}, so the expected share of flipped labels is p/2, not p. The official code
draws the mask from NumPy's global RNG reseeded with 12345, so every repeat shares one corrupted
set; we draw it from a dedicated generator with that seed instead of touching any global state.
Because U is drawn before the replacement labels and both have length n, the masks of different p
are nested (the set corrupted at p = 0.2 is inside the one at p = 0.4). Test labels stay clean.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

CORRUPTION_SEED = 12345  # the official fixed seed (P17)


def check_label_corruption(p: float, binary_labels: bool, requirement: str) -> None:
    """The config check every dataset shares: ``p`` in [0, 1], and ``p > 0`` only where the
    labels are binary (``requirement`` says what the config must set for that)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"data.label_corruption must be in [0, 1], got {p}")
    if p > 0 and not binary_labels:
        raise ValueError(f"data.label_corruption needs {requirement}")


def corrupt_binary_labels(labels: torch.Tensor, p: float,
                          seed: int = CORRUPTION_SEED) -> torch.Tensor:
    """Labels in {0, 1} with each one redrawn uniformly from {0, 1} with probability ``p``.

    Returns a new tensor of the same dtype; ``p = 0`` returns the labels unchanged.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"data.label_corruption must be in [0, 1], got {p}")
    values = labels.detach().cpu().numpy()
    if not np.isin(values, (0, 1)).all():
        raise ValueError("data.label_corruption needs binary labels in {0, 1} (set data.classes "
                         "to two classes, or data.target: binary for the sinusoid)")
    if p == 0.0:
        return labels.clone()
    rng = np.random.default_rng(seed)
    mask = rng.uniform(size=len(values)) <= p
    replacement = rng.integers(0, 2, size=len(values))
    corrupted = np.where(mask, replacement, values).astype(values.dtype)
    return torch.from_numpy(corrupted).to(labels)


def check_label_noise(p: float) -> None:
    """dherin2022 ``data.label_noise`` must be a rate in [0, 1]."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"data.label_noise must be in [0, 1], got {p}")


def replace_labels_uniformly(labels: torch.Tensor, p: float, n_classes: int,
                             rng: np.random.Generator) -> torch.Tensor:
    """dherin2022 label noise: each label, with probability ``p``, replaced by a class drawn
    uniformly from the ``n_classes`` (its own class included, so the expected share of wrong
    labels is p(1 − 1/K)). ``rng`` is the run's data stream: the noisy set is fixed per seed and
    differs between seeds. Masks and replacements are drawn for every label whatever ``p``, so the
    noisy sets of different rates are nested for one seed."""
    check_label_noise(p)
    values = labels.detach().cpu().numpy()
    mask = rng.uniform(size=len(values)) < p
    replacement = rng.integers(0, n_classes, size=len(values))
    return torch.from_numpy(np.where(mask, replacement, values).astype(values.dtype)).to(labels)


# SplitMix64 (Steele, Lea, Flood 2014): its n-th output from key k is _mix(k + n·GAMMA). A draw of
# label-noise SGD is the output at a counter made of (step, purpose, position), so it depends only
# on (run seed, step, position): a run resumed at any step draws what an uninterrupted one would,
# and no generator is created per step (a numpy SeedSequence per member and step cost 30 µs).
GAMMA = np.uint64(0x9E3779B97F4A7C15)
_PURPOSES = 3  # 0: the rounding of p·B, 1: which positions, 2: the new classes


def _mix(z: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser on uint64 arrays (wrapping arithmetic)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def label_noise_key(stream: np.random.SeedSequence) -> int:
    """A member's 64-bit label-noise key from its run's "label_noise" stream
    (docs/protocols/dherin2022.md §4)."""
    return int(stream.generate_state(1, dtype=np.uint64)[0])


def _draws(keys: np.ndarray, step: int, purpose: int, batch: int) -> np.ndarray:
    """(M, batch) uint64 SplitMix64 outputs of each member's key at (step, purpose, position)."""
    counter = ((np.uint64(step) * np.uint64(_PURPOSES) + np.uint64(purpose)) << np.uint64(32)) \
        + np.arange(batch, dtype=np.uint64) + np.uint64(1)
    with np.errstate(over="ignore"):
        return _mix(keys.astype(np.uint64)[:, None] + counter[None, :] * GAMMA)


def minibatch_label_shifts(keys: Sequence[int], rates: Sequence[float], step: int, batch: int,
                           n_classes: int) -> np.ndarray:
    """Label-noise SGD at one step (docs/protocols/dherin2022.md §2b D-b): an int64 (M, batch)
    array of class shifts s, to apply as y' = (y + s) mod K, for members with these keys.

    Member m relabels k = ⌊p·B⌋ positions, plus one more with probability frac(p·B) (so
    E[k] = p·B exactly and every minibatch holds a share p up to one label), a uniformly random
    subset (the k smallest of B uniform draws), each with a shift uniform on {1, …, K−1}: a class
    drawn uniformly from the K−1 *other* classes, so exactly k labels change. The rest get 0."""
    for p in rates:
        check_label_noise(p)
    if n_classes < 2:
        raise ValueError(f"label noise needs at least 2 classes, got {n_classes}")
    keys = np.asarray(keys, dtype=np.uint64)
    expected = np.asarray(rates, dtype=np.float64) * batch
    uniform = (_draws(keys, step, 0, 1)[:, 0] >> np.uint64(11)) * 2.0 ** -53
    count = np.floor(expected) + (uniform < expected - np.floor(expected))
    rank = np.argsort(np.argsort(_draws(keys, step, 1, batch), axis=1), axis=1)
    shift = (_draws(keys, step, 2, batch) % np.uint64(n_classes - 1)).astype(np.int64) + 1
    return np.where(rank < count[:, None], shift, 0)


def label_noise_sgd(y: torch.Tensor, rates: Sequence[float], keys: Sequence[int | None],
                    step: int, n_classes: int) -> torch.Tensor:
    """The minibatch labels y (M, B) of M members with a fresh share ``rates[m]`` of member m's
    relabelled at ``step`` (``minibatch_label_shifts`` with member m's key: deterministic,
    resumable, independent between members). Returns a new tensor; rate 0 keeps the labels."""
    if any(k is None for k, p in zip(keys, rates, strict=True) if p > 0):
        raise ValueError("train.label_noise > 0 needs the member's label_noise stream")
    shifts = minibatch_label_shifts([k or 0 for k in keys], rates, step, y.shape[1], n_classes)
    return (y + torch.from_numpy(shifts).to(y.device, y.dtype)) % n_classes


# Gaussian target noise draws from the member's key XOR this constant: a SplitMix64 sequence of its
# own, so its uniforms are not the label-noise ones at the same (step, purpose, position).
_GAUSSIAN_SALT = np.uint64(0x5851F42D4C957F2D)


def gaussian_target_noise(keys: Sequence[int], sigmas: Sequence[float], step: int,
                          batch: int) -> np.ndarray:
    """Fresh Gaussian target noise at one step (the atlas study's label-noise SGD for regression,
    issue 29): a float64 (M, batch) array σ_m·ε, ε standard normal by Box–Muller,
    ε = √(−2 ln u1)·cos(2π u2), from two uniforms at (step, purpose 0 / 1, position) of member m's
    salted key. It depends only on (run seed, step, position): a resumed run draws exactly what
    an uninterrupted one would, and members are independent."""
    for sigma in sigmas:
        if not sigma >= 0:
            raise ValueError(f"train.label_noise (a target noise std) must be >= 0, got {sigma}")
    salted = np.asarray(keys, dtype=np.uint64) ^ _GAUSSIAN_SALT
    u1 = ((_draws(salted, step, 0, batch) >> np.uint64(11)) + np.uint64(1)) * 2.0 ** -53  # (0, 1]
    u2 = (_draws(salted, step, 1, batch) >> np.uint64(11)) * 2.0 ** -53  # [0, 1)
    epsilon = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
    return np.asarray(sigmas, dtype=np.float64)[:, None] * epsilon


def noisy_targets(y: torch.Tensor, rates: Sequence[float], keys: Sequence[int | None], step: int,
                  n_classes: int | None) -> torch.Tensor:
    """The minibatch targets y (M, B) of one step with each member's per-step noise (issue 29):
    ``label_noise_sgd`` over ``n_classes`` classes for classifiers (labels keep their dtype, so
    float 0/1 BCE labels stay float), y + σ·ε (``gaussian_target_noise``) for regression
    (``n_classes`` None). A rate 0 keeps the member's targets. Returns a new tensor."""
    if n_classes is not None:
        return label_noise_sgd(y, rates, keys, step, n_classes)
    if any(k is None for k, p in zip(keys, rates, strict=True) if p > 0):
        raise ValueError("train.label_noise > 0 needs the member's label_noise stream")
    noise = gaussian_target_noise([k or 0 for k in keys], rates, step, y.shape[1])
    return y + torch.from_numpy(noise).to(y.device, y.dtype)
