"""The probe protocol: one signature for every probe (docs/design.md "Rooms").

A probe is ``measure(model, inputs, options) -> rows``:

- ``model`` is one member at one checkpoint, an ``nn.Module`` (the two-layer network of
  nakazato2024 as ``trainlens.models.two_layer.TwoLayerNet``, whose stacked parameters
  :func:`stacked_params` reads for the closed forms);
- ``inputs`` maps the names the probe asked for (``Probe.inputs``) to the member's
  :class:`InputSet` of that name, which the measure stage builds from the run's data (train and
  test sets, a far-field grid, class-stratified probe sets, ...): probes never load a dataset;
- ``options`` (:class:`Options`) holds the experiment's block of settings for the probe, the
  member's training loss and its seed;
- ``rows`` are dicts for the probe's table (``Probe.table``; ``metrics`` rows are (split,
  metric, value)) or a ``DataFrame`` of that table's columns. The measure stage adds run id,
  step and epoch. A table other than ``metrics`` (loukas2021's ``regions``) is an extra table:
  the measure stage writes it where it is asked to.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import torch
from torch import nn

Row = dict[str, Any]
Rows = list[Row] | pd.DataFrame


@dataclass(frozen=True)
class InputSet:
    """Inputs a probe runs on, with their targets where the set has them, and the data's extras
    (``Split.extras``: e.g. a class-to-superclass map) or the set's own (latent coordinates)."""

    x: torch.Tensor
    y: torch.Tensor | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Options:
    """What a probe may know besides model and inputs."""

    settings: Any = None  # the experiment's block (``Probe.block``) as ``Probe.settings``
    loss: str | None = None  # the member's training loss, a ``trainlens.losses.LOSSES`` name
    seed: int = 0  # the run's seed: a probe's random draws come from its "probes" stream


Measure = Callable[[nn.Module, Mapping[str, InputSet], Options], Rows]


@dataclass(frozen=True)
class Probe:
    """A registry entry: the function, the input sets it reads (in table order), and where its
    settings and rows live."""

    measure: Measure
    inputs: tuple[str, ...]
    settings: type | None = None  # dataclass of the experiment's block named ``block``
    block: str | None = None  # the group config key with the settings (``stiffness``, ...)
    table: str = "metrics"  # the table its rows go to; any other is an extra table
    last_checkpoint_only: bool = False  # e.g. a costly analysis of the final model
    # True: the presence of the ``block`` turns the probe on, as listing it in ``probes`` does
    # (loukas2021's ``region_analysis: {grid_points: ...}``)
    block_enables: bool = False

    def options_of(self, config: Mapping[str, Any]) -> Any:
        """The probe's settings from the group config (the dataclass defaults without a block)."""
        if self.settings is None:
            return None
        block = (config.get(self.block) if self.block else None) or {}
        return self.settings(**{k: tuple(v) if isinstance(v, list) else v
                                for k, v in block.items()})


def per_example(name: str, values: Callable[[nn.Module, torch.Tensor], torch.Tensor]) -> Measure:
    """A probe of per-example values: the mean and max over each input set, as metrics
    ``<name>_mean`` and ``<name>_max`` with the set's name as ``split``."""

    def measure(model: nn.Module, inputs: Mapping[str, InputSet], options: Options) -> Rows:
        rows: list[Row] = []
        for split, batch in inputs.items():
            result = values(model, batch.x).detach().to(torch.float64)
            for stat, value in (("mean", result.mean()), ("max", result.max())):
                rows.append({"split": split, "metric": f"{name}_{stat}", "value": float(value)})
        return rows

    return measure


def metric_rows(values: Mapping[str, float], split: str) -> list[Row]:
    """``{metric: value}`` as metrics rows of one ``split``."""
    return [{"split": split, "metric": metric, "value": value} for metric, value in values.items()]


def stacked_params(model: nn.Module) -> dict[str, torch.Tensor]:
    """The parameters of a ``TwoLayerNet`` stacked on a member axis of size 1, as the closed
    forms of ``trainlens.models.two_layer`` take them: a (1, m), W (1, m, d), b (1, m)."""
    if not all(isinstance(getattr(model, n, None), torch.Tensor) for n in ("a", "W", "b")):
        raise TypeError(f"this probe measures the two-layer network (trainer two_layer), not a "
                        f"{type(model).__name__}")
    return {name: getattr(model, name).detach().unsqueeze(0) for name in ("a", "W", "b")}
