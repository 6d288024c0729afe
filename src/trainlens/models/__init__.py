"""Model registry. Add a family by writing ``models/<family>.py`` and one entry here.

``build(config, generator)`` returns an initialised ``nn.Module`` whose forward gives the
pre-sigmoid output z: shape (batch,) for scalar models, (batch, classes) otherwise.
``first_bias`` names the loukas2021 trained first-layer bias b1 where the family has one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from trainlens.models import fort_cnn, loukas, mlp, resnet, resnet20, two_layer


@dataclass(frozen=True)
class ModelSpec:
    config_cls: type
    build: Callable[[Any, torch.Generator], nn.Module]
    first_bias: str | None = None


MODELS: dict[str, ModelSpec] = {
    "loukas_mlp": ModelSpec(loukas.LoukasMLPConfig, loukas.build_mlp, loukas.FIRST_BIAS),
    "loukas_cnn": ModelSpec(loukas.LoukasCNNConfig, loukas.build_cnn, loukas.FIRST_BIAS),
    "mlp": ModelSpec(mlp.MLPConfig, mlp.build),
    "two_layer": ModelSpec(two_layer.TwoLayerConfig, two_layer.build),
    "resnet18": ModelSpec(resnet.ResNet18Config, resnet.build),
    # fort2019
    "fort_cnn": ModelSpec(fort_cnn.FortCNNConfig, fort_cnn.build),
    "resnet20": ModelSpec(resnet20.ResNet20Config, resnet20.build),
}

__all__ = ["MODELS", "ModelSpec"]
