"""The training engines an experiment names (``trainer``), each with its tiny-slice rule.

The engines are named by "module:function" strings and imported only when used: resolving an
experiment must not import torch, and training and measuring do not import each other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from trainlens.slice_rule import SliceRule

Member = dict[str, Any]


def all_members(members: list[Member]) -> list[Member]:
    """Every member stays in the slice."""
    return members


def first_seed_members(members: list[Member]) -> list[Member]:
    """The members with the first seed: one replicate of every grid value (every width, depth,
    batch size, strength and lr still trains), at least two members. A dherin2022 or fort2019
    slice job costs about its member count (the measure stage probes members one by one), and
    their groups hold 3 seeds of 1 to 21 grid values."""
    first = [m for m in members if m["seed"] == members[0]["seed"]]
    return first if len(first) >= 2 else members[:2]


@dataclass(frozen=True)
class TrainerSlice:
    """How a trainer's groups shrink: the rule of its ``train`` block (the group's, and each
    member's where ``members_train``), the probe option blocks it shrinks (names in
    ``trainlens.experiments.slicing.PROBE_SLICES``) and the members that stay."""

    train: SliceRule
    members_train: bool = False
    probe_blocks: tuple[str, ...] = ()
    members: Callable[[list[Member]], list[Member]] = all_members


@dataclass(frozen=True)
class Trainer:
    """A training engine: the fields of the one ``train`` block it reads (with its default for
    each) and the grid keys whose values can train together in one ensemble (``ensemble_over``).
    """

    # TrainConfig field -> this trainer's default (trainlens.experiments.train_config); any other
    # key of a train block is refused. The order is that of the runs table's train_* columns.
    reads: Mapping[str, Any]
    foldable: tuple[str, ...]
    train: str  # "module:function" of ``trainlens train`` (imported only when used)
    measure: str  # "module:function" of ``trainlens measure``
    slice: TrainerSlice = field(default_factory=lambda: TrainerSlice(SliceRule()))
    uses_device: bool = True  # False: always the CPU (its jobs ask Snakemake for no GPU)


# loukas2021 §3: plain SGD at batch size 1, float64 (the official code's MLP runs)
ENSEMBLE_READS = {"loss": "mse_half", "lr": 1e-3, "epochs": 1, "batch_size": 1, "drop_last": False,
                  "lr_decay_per_epoch": 1.0, "dtype": "float64", "checkpoints": 20,
                  "weight_decay": 0.0, "label_noise": 0.0, "step": "sgd", "compile": False}
# docs/protocols/nakazato2024.md §3: full-batch GD on the logistic loss, 40 log-spaced probe times
TWO_LAYER_READS = {"loss": "logistic", "lr": 0.5, "steps": 20000, "batch_size": 0,
                   "langevin_temperature": 0.0, "dtype": "float64", "checkpoints": 40,
                   "probe_times": None}
# dherin2022 §3 base configuration: SGD at batch 32 for 1500 steps, every regulariser off
REGULARIZED_READS = {"loss": "cross_entropy", "optimizer": "sgd", "lr": 0.05, "steps": 1500,
                     "batch_size": 32, "weight_decay": 0.0, "spectral_penalty": 0.0,
                     "flatness_penalty": 0.0, "gc_penalty": 0.0, "gc_projections": 1,
                     "input_noise": 0.0, "label_noise": 0.0, "target_loss": 0.0,
                     "check_every": 10, "log_every": 100, "log_subset": 0, "log_complexity": True,
                     "checkpoint_epochs": (), "dtype": "float32"}

# experiment key ``trainer`` -> engine; the schema enums are kept equal to it by a test
TRAINERS: dict[str, Trainer] = {
    # torch.func ensemble of any registered model (loukas2021): data, lr, and the atlas study's
    # per-member weight decay and label noise vmap (trainlens.members.PER_MEMBER_TRAIN). Its
    # slice trains one epoch without torch.compile (a cold compile costs more than the slice).
    "ensemble": Trainer(ENSEMBLE_READS,
                        ("data.", "train.lr", "train.weight_decay", "train.label_noise"),
                        "trainlens.training.group:train_group",
                        "trainlens.measure:measure_group",
                        slice=TrainerSlice(
                            SliceRule(caps={"epochs": "epochs", "checkpoints": "checkpoints"},
                                      fixed={"compile": False}),
                            probe_blocks=("region_analysis", "record"))),
    # closed-form two-layer network (nakazato2024): every per-run setting is a member property.
    # Its slice: 64 steps, a few probe times, and (E3) waiting times within them.
    "two_layer": Trainer(TWO_LAYER_READS,
                         ("data.", "model.activation", "train.loss", "train.batch_size",
                          "train.lr", "train.langevin_temperature"),
                         "trainlens.training.two_layer_group:train_two_layer_group",
                         "trainlens.measure:measure_group",
                         slice=TrainerSlice(
                             SliceRule(caps={"steps": "steps",
                                             "checkpoints": "log_spaced_checkpoints"},
                                       clip={"probe_times": "steps"}),
                             members_train=True, probe_blocks=("record.two_time",)),
                         uses_device=False),
    # torch.func ensemble with per-member regularisers (dherin2022): strengths, lr, label noise
    # and the init scheme vmap; members that differ in shape or shared settings (depth, batch
    # size; widths beyond zero padding) form sub-ensembles trained one after the other in the job.
    # Its slice: 4 steps logged at 0 and 4, a batch of at most 4 (full batch stays full batch),
    # GC logged on at most 4 points, the members of the first seed.
    "regularized": Trainer(REGULARIZED_READS,
                           ("data.", "model.", "train."),
                           "trainlens.training.regularized_group:train_regularized_group",
                           "trainlens.measure:measure_group",
                           slice=TrainerSlice(
                               SliceRule(caps={"steps": "sgd_steps", "log_every": "sgd_steps",
                                               "check_every": "check_every",
                                               "log_subset": "log_subset",
                                               "batch_size": "batch_size"},
                                         zero_means_all=("log_subset",)),
                               members_train=True, probe_blocks=("stiffness",),
                               members=first_seed_members)),
}
