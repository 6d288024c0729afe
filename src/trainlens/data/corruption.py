"""Label corruption: loukas2021 E1b/E1c (spec §3 E1b, pitfall P17) and dherin2022 label noise.

dherin2022 E6/E9 (spec §3, [inferred]): a fraction p of the training labels is replaced by
classes drawn uniformly from all K, fixed per seed (``replace_labels_uniformly``).

loukas2021:

Each training label is masked with probability p (mask = U ≤ p) and a masked label is redrawn
uniformly from {0, 1}, so the expected share of flipped labels is p/2, not p. The official code
draws the mask from NumPy's global RNG reseeded with 12345, so every repeat shares one corrupted
set; we draw it from a dedicated generator with that seed instead of touching any global state.
Because U is drawn before the replacement labels and both have length n, the masks of different p
are nested (the set corrupted at p = 0.2 is inside the one at p = 0.4). Test labels stay clean.
"""

from __future__ import annotations

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
