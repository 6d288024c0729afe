"""The loaded data of one run (a leaf): what datasets return, training trains on and probes read.

It lives outside :mod:`trainlens.data` so that probes can take a split without importing the
dataset registry (probes import neither data nor training; pyproject.toml's import contracts).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass(frozen=True)
class Split:
    """One run's data, as tensors that sit on the training device (no DataLoader: it all fits).

    ``extras`` holds arrays a probe needs to reproduce the data geometry later, e.g. the embedding
    matrix Q of the loukas2021 sinusoid (docs/protocols/loukas2021.md §7 P18: the regions analysis
    must use the training Q).
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    def to(self, device: torch.device | str, dtype: torch.dtype) -> Split:
        """Move to ``device``; inputs and float targets take ``dtype``, class labels stay int."""

        def cast(t: torch.Tensor) -> torch.Tensor:
            return t.to(device=device, dtype=dtype if t.is_floating_point() else t.dtype)

        return Split(cast(self.x_train), cast(self.y_train), cast(self.x_test), cast(self.y_test),
                     self.extras)
