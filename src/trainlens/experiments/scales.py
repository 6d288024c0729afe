"""Scales: an experiment's keys at smoke, cpu or paper scale (docs/design.md "Scales").

An experiment holds its base keys and per-scale override blocks under ``smoke:``/``cpu:``/
``paper:``, deep-merged onto the base in the order of ``SCALE_LAYERS``.
"""

from __future__ import annotations

import copy
from typing import Any

SCALES = ("smoke", "cpu", "paper")
# The cpu scale keeps the paper protocol and changes only what two CPU cores cannot afford: it
# resolves as paper scale with the experiment's ``cpu:`` block on top, and its claims use the
# paper-scale thresholds (trainlens.claims). An experiment without a ``cpu:`` block does not run at
# cpu scale (those that need CIFAR or a GPU).
SCALE_LAYERS = {"smoke": ("smoke",), "cpu": ("paper", "cpu"), "paper": ("paper",)}


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` merged into ``base`` key by key. A block whose ``name`` changes (a smoke
    dataset standing in for a paper one) replaces the base block instead: the keys of one
    registry entry mean nothing to another."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        base_value = merged.get(key)
        renamed = (isinstance(value, dict) and isinstance(base_value, dict)
                   and "name" in value and value["name"] != base_value.get("name"))
        if isinstance(value, dict) and isinstance(base_value, dict) and not renamed:
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def resolve_scale(spec: dict[str, Any], scale: str) -> dict[str, Any]:
    """One experiment's keys at ``scale``: the base keys deep-merged with the scale's override
    blocks in order (``SCALE_LAYERS``: cpu = paper, then cpu)."""
    resolved = {k: v for k, v in spec.items() if k not in SCALES}
    for layer in SCALE_LAYERS[scale]:
        resolved = deep_merge(resolved, spec.get(layer) or {})
    return resolved


def runs_at(spec: dict[str, Any], scale: str) -> bool:
    """Whether an experiment runs at ``scale``: listed in its ``scales`` (default all), and at cpu
    scale only with a ``cpu:`` block (``cpu: {}`` = exactly paper scale)."""
    return scale in spec.get("scales", SCALES) and (scale != "cpu" or "cpu" in spec)
