"""Probes: pure functions of (model, batch) that measure complexity. Public API.

``PROBES`` maps the probe names used in ``experiments/<slug>.yaml`` (``probes: [...]``) to
functions ``(model, x) -> per-example values``; the measure stage runs them on checkpoints.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from trainlens.probes import trajectory
from trainlens.probes.lipschitz import input_gradient_norms, input_jacobians

PROBES: dict[str, Callable[[nn.Module, torch.Tensor], torch.Tensor]] = {
    "lipschitz": input_gradient_norms,
}

__all__ = ["PROBES", "input_gradient_norms", "input_jacobians", "trajectory"]
