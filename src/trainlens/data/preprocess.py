"""Input preprocessing applied by a loader after its own shaping, i.e. on the tensors the network
sees: fort2019 computes input distances on exactly these vectors (docs/protocols/fort2019.md §4 and
§7 pitfall 8).

``standardize_unit_norm`` (fort2019 §3): per-feature zero mean and unit variance with statistics
from the training split only, then each example scaled to Euclidean norm 1 over all its features.
"""

from __future__ import annotations

import torch
from torch import Tensor

PREPROCESSING = ("none", "standardize_unit_norm")

# Constant features (border pixels of MNIST and of many load_digits pixels) have std 0
# (docs/protocols/fort2019.md §7 pitfall 8). The protocol clamps the std at 1e-8; a feature constant
# in training but not in the test split then gets test values ~1e7 (digits pixel 24 is 0 in every
# training image of the split_seed 123 split and non-zero in 2 test images, which became near
# one-hot outliers). A DEVIATION: features constant in training are set to 0 instead; they carry
# no training signal.
MIN_STD = 1e-8


def check_preprocess(how: str) -> None:
    """Raise ValueError naming ``data.preprocess`` unless ``how`` is in :data:`PREPROCESSING`."""
    if how not in PREPROCESSING:
        raise ValueError(f"data.preprocess must be one of {list(PREPROCESSING)}, got {how!r}")


def preprocess(x_train: Tensor, x_test: Tensor, how: str) -> tuple[Tensor, Tensor]:
    """Return ``(x_train, x_test)`` preprocessed by ``how``; ``"none"`` returns them unchanged.

    Shapes and dtypes are kept (NCHW images stay NCHW; the features of an example are all its
    C*H*W values). Statistics are population mean and std (ddof 0, so the training features get
    variance exactly 1) computed in float64 on ``x_train`` alone; features constant in training
    (std < 1e-8) become 0 in both splits. An example whose standardized
    vector is all zeros (every feature at the training mean) has no direction: it stays zero
    instead of becoming NaN, and is then the only example whose norm is not 1.
    """
    check_preprocess(how)
    if how == "none":
        return x_train, x_test
    for x in (x_train, x_test):
        if not x.is_floating_point():
            raise TypeError(f"preprocess {how!r} needs floating-point inputs, got {x.dtype}")
    if x_train.dim() < 2 or x_train.shape[1:] != x_test.shape[1:] or len(x_train) == 0:
        raise ValueError(f"preprocess {how!r} needs a non-empty training split of (N, ...) "
                         f"inputs and matching example shapes, got {tuple(x_train.shape)} and "
                         f"{tuple(x_test.shape)}")
    train = x_train.flatten(1).to(torch.float64)
    mean = train.mean(dim=0)
    std = train.std(dim=0, correction=0)
    scale = torch.where(std >= MIN_STD, 1 / std.clamp_min(MIN_STD), 0.0)

    def apply(x: Tensor) -> Tensor:
        z = (x.flatten(1).to(torch.float64) - mean) * scale
        norm = z.norm(dim=1, keepdim=True)
        z = z / torch.where(norm > 0, norm, torch.ones_like(norm))  # a zero vector stays zero
        return z.reshape(x.shape).to(x.dtype)

    return apply(x_train), apply(x_test)
