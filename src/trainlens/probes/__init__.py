"""Probes: pure measurements of a model on given inputs. Public API.

Every probe follows one protocol (:mod:`trainlens.probes.base`): ``measure(model, inputs,
options) -> rows``, registered in ``PROBES`` under the name that ``experiments/<slug>.yaml`` lists
in ``probes: [...]``, with the named input sets it reads. The measure stage
(:mod:`trainlens.measure`) builds those input sets from each run's data (train and test sets, the
far-field and latent grids, class-stratified probe sets: probes import no dataset), loads each
checkpoint and writes the rows of each probe's table: ``metrics`` for most, an extra table for
some (loukas2021's ``regions``).

- loukas2021: ``lipschitz`` (λ on the data, §4.2), ``far_field_lipschitz`` (§4.4, C8) and
  ``region_analysis`` (linear regions and the LP bound on the final checkpoint, §4.3; module
  ``regions``, its own table);
- dherin2022: ``geometric_complexity`` (module ``geometric_complexity``);
- fort2019: ``stiffness`` (module ``stiffness_tables``; Gram and class helpers in ``stiffness``
  and ``class_stiffness``);
- nakazato2024, closed forms of the two-layer network: ``response`` and ``factorization``
  (module ``response``), ``feature_space``, ``fragility``;
- the atlas study (issue 29): ``outcomes`` (checkpoint loss and error) and ``kernel`` (NTK
  diagonal and PR_W).

Statistics of the tables that figures and claims compute (aging slopes, GC sweeps, ξ, trajectory
summaries) are in each paper's room, ``analysis/<slug>/stats.py``, and the generic ones in
:mod:`trainlens.stats`; neither imports torch.
"""

from __future__ import annotations

from trainlens.probes import (
    class_stiffness,
    feature_space,
    fragility,
    kernel,
    outcomes,
    regions,
    response,
    stiffness_tables,
    trajectory,
)
from trainlens.probes.base import InputSet, Options, Probe, per_example
from trainlens.probes.geometric_complexity import (
    geometric_complexity,
    geometric_complexity_hutchinson,
    hutchinson_variance,
    per_example_geometric_complexity,
)
from trainlens.probes.lipschitz import input_gradient_norms, input_jacobians
from trainlens.probes.stiffness import Stiffness, gradient_gram, per_example_gradients, stiffness

DATA_INPUTS = ("train", "test")  # the run's own training and test inputs
CLASS_PROBE_INPUTS = (*DATA_INPUTS, "class_probe_train", "class_probe_test")

# probe name (``probes: [...]``) -> the probe, the input sets it reads and where its settings are
PROBES: dict[str, Probe] = {
    # loukas2021 §4.2: λ near the data
    "lipschitz": Probe(per_example("lipschitz", input_gradient_norms), DATA_INPUTS),
    # loukas2021 §4.4 (suite extension, C8): λ on a latent grid far from the data
    "far_field_lipschitz": Probe(per_example("far_field_lipschitz", input_gradient_norms),
                                 ("far_field",)),
    # loukas2021 §4.3 (E2): its own table, on the final checkpoint, on when its block is set
    "region_analysis": Probe(regions.regions_probe, ("train", "latent_grid"),
                             regions.RegionOptions, "region_analysis", table="regions",
                             last_checkpoint_only=True, block_enables=True),
    # dherin2022 §4: GC = mean of these over the inputs (the table's ``geometric_complexity_mean``)
    "geometric_complexity": Probe(per_example("geometric_complexity",
                                              per_example_geometric_complexity), DATA_INPUTS),
    # fort2019 §4
    "stiffness": Probe(stiffness_tables.stiffness_probe, CLASS_PROBE_INPUTS,
                       stiffness_tables.StiffnessOptions, "stiffness"),
    # nakazato2024 §4.2-4.6 and E2 (§6 C5), closed forms of the two-layer network
    "response": Probe(response.response_probe, ("train",)),
    "factorization": Probe(response.factorization_probe, ("train",)),
    "feature_space": Probe(feature_space.feature_space_probe, ("train",)),
    "fragility": Probe(fragility.fragility_probe, ("train",)),
    # the atlas study (issue 29): checkpoint train/test loss and error, NTK diagonal and PR_W
    "outcomes": Probe(outcomes.outcomes_probe, DATA_INPUTS),
    "kernel": Probe(kernel.kernel_probe, ("train",), kernel.KernelOptions, "kernel"),
}

__all__ = ["PROBES", "InputSet", "Options", "Probe", "Stiffness", "class_stiffness",
           "feature_space", "fragility", "geometric_complexity",
           "geometric_complexity_hutchinson", "gradient_gram", "hutchinson_variance",
           "input_gradient_norms", "input_jacobians", "kernel", "outcomes",
           "per_example_geometric_complexity", "per_example_gradients", "regions", "response",
           "stiffness", "trajectory"]
