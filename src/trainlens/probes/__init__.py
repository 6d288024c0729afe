"""Probes: pure functions of (model, batch) that measure complexity. Public API.

The nakazato2024 probes of the two-layer network (closed forms of (params, batch)) are the
modules ``response`` (one-step training response, NTK, factors), ``feature_space`` and
``fragility``; the measure stage applies them through
``trainlens.measure_two_layer.TWO_LAYER_PROBES``.

``PROBES`` maps the probe names of ``experiments/<slug>.yaml`` (``probes: [...]``) to a probe
function ``(model, x) -> per-example values`` and the names of the input sets it is evaluated on
(``train``, ``test``, ``far_field``). The measure stage owns those input sets
(``trainlens.measure.INPUT_SETS``: a far-field grid is a dataset's geometry, and probes import no
dataset) and runs the probes on checkpoints.
``TABLE_PROBES`` maps the names of probes that need labels, the group config or a whole-model
view (fort2019 stiffness; the atlas study's ``outcomes`` and ``kernel``) to
``(model, split, config) -> rows`` of (split, metric, value).

The fort2019 stiffness probe (``stiffness``: cosine and sign stiffness from the per-example loss
gradient Gram) and its class and distance helpers are the module ``class_stiffness``.

The atlas study (issue 29) adds ``outcomes`` (module ``outcomes``: ``checkpoint_loss`` and
``checkpoint_error`` on the full train and test sets with the group's loss) and ``kernel``
(module ``kernel``: the empirical NTK diagonal ``ntk_diagonal_mean`` over the first ``n``
training inputs, options from the experiment's ``kernel:`` block, and nakazato2024's PR_W of the
first trained layer, ``weight_participation_ratio``).

Statistics of the tables that figures and claims compute (aging slopes, GC sweeps, ξ, trajectory
summaries) are in :mod:`trainlens.summaries`, which never imports torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from trainlens.probes import (
    class_stiffness,
    feature_space,
    fragility,
    kernel,
    outcomes,
    response,
    trajectory,
)
from trainlens.probes.geometric_complexity import (
    geometric_complexity,
    geometric_complexity_hutchinson,
    hutchinson_variance,
    per_example_geometric_complexity,
)
from trainlens.probes.lipschitz import input_gradient_norms, input_jacobians
from trainlens.probes.stiffness import Stiffness, gradient_gram, per_example_gradients, stiffness
from trainlens.probes.stiffness_tables import StiffnessOptions, stiffness_rows
from trainlens.splits import Split

# the run's own training and test inputs
DATA_INPUTS = ("train", "test")


@dataclass(frozen=True)
class Probe:
    measure: Callable[[nn.Module, torch.Tensor], torch.Tensor]
    inputs: tuple[str, ...]  # names of the measure stage's input sets, in table order


PROBES: dict[str, Probe] = {
    # loukas2021 §4.2: λ near the data
    "lipschitz": Probe(input_gradient_norms, DATA_INPUTS),
    # loukas2021 §4.4 (suite extension, C8): λ on a latent grid far from the data
    "far_field_lipschitz": Probe(input_gradient_norms, ("far_field",)),
    # dherin2022 §4: GC = mean of these over the inputs (the table's ``geometric_complexity_mean``)
    "geometric_complexity": Probe(per_example_geometric_complexity, DATA_INPUTS),
}



def _stiffness_table(model: nn.Module, split: Split, config: dict) -> list[dict]:
    """fort2019 §4 on one checkpoint, with the experiment's ``stiffness:`` options."""
    options = StiffnessOptions(**{k: tuple(v) if isinstance(v, list) else v
                                  for k, v in (config.get("stiffness") or {}).items()})
    return stiffness_rows(model, split, config["train"].get("loss", "cross_entropy"), options)


TABLE_PROBES: dict[str, Callable[[nn.Module, Split, dict], list[dict]]] = {
    "stiffness": _stiffness_table,
    # the atlas study (issue 29): checkpoint train/test loss and error, NTK diagonal and PR_W
    "outcomes": outcomes.outcomes_table,
    "kernel": kernel.kernel_table,
}

__all__ = ["PROBES", "Probe", "Stiffness", "TABLE_PROBES", "class_stiffness",
           "feature_space", "fragility", "geometric_complexity",
           "geometric_complexity_hutchinson", "gradient_gram", "hutchinson_variance",
           "input_gradient_norms", "input_jacobians", "kernel", "outcomes",
           "per_example_geometric_complexity", "per_example_gradients", "response", "stiffness",
           "trajectory"]
