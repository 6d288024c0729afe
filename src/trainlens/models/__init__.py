"""Model registry. Add a family by writing ``models/<family>.py`` and one entry here.

``build(config, generator)`` returns an initialised ``nn.Module`` whose forward gives the
pre-sigmoid output z: shape (batch,) for scalar models, (batch, classes) otherwise.
``first_bias`` names the loukas2021 trained first-layer bias b1 where the family has one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from trainlens.models import fort_cnn, loukas, mlp, resnet, resnet20, two_layer
from trainlens.slice_rule import SliceRule


@dataclass(frozen=True)
class ModelSpec:
    """A registry entry: the config dataclass, the builder, the first-layer bias and how the
    block shrinks for a tiny slice (trainlens.experiments.slicing)."""

    config_cls: type
    build: Callable[[Any, torch.Generator], nn.Module]
    first_bias: str | None = None
    slice_rule: SliceRule = field(default_factory=SliceRule)


# a ResNet of the same architecture at width at most 4: exact GC through a full-width ResNet
# costs seconds per member on the CPU
_NARROW = SliceRule(caps={"width": "resnet_width"})


MODELS: dict[str, ModelSpec] = {
    "loukas_mlp": ModelSpec(loukas.LoukasMLPConfig, loukas.build_mlp, loukas.FIRST_BIAS),
    "loukas_cnn": ModelSpec(loukas.LoukasCNNConfig, loukas.build_cnn, loukas.FIRST_BIAS),
    "mlp": ModelSpec(mlp.MLPConfig, mlp.build),
    "two_layer": ModelSpec(two_layer.TwoLayerConfig, two_layer.build),
    "resnet18": ModelSpec(resnet.ResNet18Config, resnet.build, slice_rule=_NARROW),
    # fort2019
    "fort_cnn": ModelSpec(fort_cnn.FortCNNConfig, fort_cnn.build),
    "resnet20": ModelSpec(resnet20.ResNet20Config, resnet20.build, slice_rule=_NARROW),
}

__all__ = ["MODELS", "ModelSpec"]
