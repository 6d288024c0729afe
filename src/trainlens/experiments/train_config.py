"""The one ``train`` block of every trainer: :class:`TrainConfig`, its fields grouped by what
they set (objective, schedule, optimizer, regularizers, numerics), each check with its field.

A trainer (``trainlens.experiments.trainers:TRAINERS``) declares the fields it reads and its
default for each (``Trainer.reads``); a key of another trainer is refused naming the key, its
group and the trainer, a key of none as an unknown key. Fields a trainer does not read keep the
neutral defaults below (off, or a value nothing reads). Resolving validates a block here, and
the trainers build theirs here, so both refuse the same values (docs/design.md "Rooms", "a train
setting").
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from trainlens.experiments.trainers import TRAINERS
from trainlens.experiments.typed import ConfigError, make_dataclass_config
from trainlens.losses import CLOSED_FORM_LOSSES, LOSSES
from trainlens.schedule import log_spaced_steps
from trainlens.schema_errors import did_you_mean

DTYPES = ("float32", "float64")  # trainlens.members.DTYPES maps them to torch dtypes
STEPS = ("sgd",)  # the ensemble's steps, trainlens.training.steps:STEPS (a test keeps them equal)
OPTIMIZERS = ("sgd", "adam")
STRENGTHS = ("weight_decay", "spectral_penalty", "flatness_penalty", "gc_penalty", "input_noise",
             "label_noise")


def _in(group: str, default: Any, **kw: Any) -> Any:
    """A field of ``group`` (its metadata: the error for another trainer's key names it)."""
    return field(default=default, metadata={"group": group}, **kw)


@dataclass(frozen=True)
class TrainConfig:
    """One run's (or one ensemble's) optimisation settings. ``trainer`` is not a key of the
    block: it names whose fields were read and which trainer's checks apply."""

    trainer: str = "ensemble"
    # --- objective
    loss: str = _in("objective", "mse_half")  # trainlens.losses (two_layer: logistic | mse)
    # --- schedule: epochs (ensemble) or steps (regularized, two_layer); when to log and save
    epochs: int = _in("schedule", 1)
    steps: int = _in("schedule", 0)
    checkpoints: int = _in("schedule", 20)  # log-spaced checkpoint steps (plus 0 and the end)
    # fort2019: extra checkpoints at these epochs (step round(e·steps_per_epoch)), besides 0
    # and the end
    checkpoint_epochs: tuple[float, ...] = _in("schedule", ())
    probe_times: tuple[int, ...] | None = _in("schedule", None)  # two_layer: explicit (E2)
    log_every: int = _in("schedule", 100)  # steps between logged metrics (GC, losses, norms)
    check_every: int = _in("schedule", 10)  # steps between target-loss checks
    target_loss: float = _in("schedule", 0.0)  # > 0: stop a member once its train loss is below
    log_subset: int = _in("schedule", 0)  # training points GC is logged on (first n); 0 = all
    # false: the log holds losses and accuracies only, no GC, loss slope or norms (fort2019,
    # whose probes run on checkpoints: the exact GC of 100 logits through 18 CNNs is the
    # costliest part of a step log, and its memory grows with K × members × examples)
    log_complexity: bool = _in("schedule", True)
    # --- optimizer
    step: str = _in("optimizer", "sgd")  # the ensemble's step (trainlens.training.steps)
    optimizer: str = _in("optimizer", "sgd")  # regularized: plain SGD (no momentum) or adam (E9)
    lr: float = _in("optimizer", 1e-3)
    lr_decay_per_epoch: float = _in("optimizer", 1.0)  # γ of ExponentialLR, once per epoch
    batch_size: int = _in("optimizer", 1)  # 0 = full batch (GD), where the trainer allows it
    drop_last: bool = _in("optimizer", False)  # False: a shorter last batch, like DataLoader
    # --- regularizers (dherin2022 §3 penalties; input and label noise; Langevin noise). 0 = off
    # L2 weight decay: the ensemble decays weights only (parameters with >= 2 dims)
    weight_decay: float = _in("regularizers", 0.0)
    spectral_penalty: float = _in("regularizers", 0.0)
    flatness_penalty: float = _in("regularizers", 0.0)
    gc_penalty: float = _in("regularizers", 0.0)
    gc_projections: int = _in("regularizers", 1)
    input_noise: float = _in("regularizers", 0.0)  # σ of x + σ·N(0, I), fresh each step
    # label-noise SGD, fresh every step, training only: for classifiers the share of each
    # minibatch relabelled with another class; for regression (mse_half) the std of Gaussian
    # target noise per example and step
    label_noise: float = _in("regularizers", 0.0)
    langevin_temperature: float = _in("regularizers", 0.0)  # two_layer (nakazato2024 §3)
    # --- numerics
    dtype: str = _in("numerics", "float64")
    # torch.compile the step: ~5x faster per step on CPU, but 5-40 s to compile (cached on disk
    # after the first time), so worth it only for long runs (paper scale)
    compile: bool = _in("numerics", False)

    def __post_init__(self) -> None:
        if self.trainer not in TRAINERS:
            raise ValueError(f"trainer must be one of {sorted(TRAINERS)}, got {self.trainer!r}")
        object.__setattr__(self, "checkpoint_epochs", tuple(self.checkpoint_epochs))
        _check_objective(self)
        _check_schedule(self)
        _check_optimizer(self)
        _check_regularizers(self)
        _check_numerics(self)

    @classmethod
    def of(cls, trainer: str, **values: Any) -> TrainConfig:
        """``trainer``'s config: its defaults, overridden by ``values`` (unchecked keys: for
        code; a YAML block goes through :func:`make_train_config`)."""
        return cls(trainer=trainer, **{**TRAINERS[trainer].reads, **values})

    def block(self) -> dict[str, Any]:
        """The fields its trainer reads, in the trainer's order (the runs table's train_*)."""
        return {key: getattr(self, key) for key in TRAINERS[self.trainer].reads}

    def steps_per_epoch(self, n_train: int) -> int:
        """Optimizer steps per epoch: ⌈N/B⌉ (⌊N/B⌋ with ``drop_last``); 1 for full batch."""
        if not self.batch_size:
            return 1
        if self.drop_last and n_train < self.batch_size:
            raise ValueError(f"train.batch_size={self.batch_size} exceeds the {n_train} training "
                             "examples and train.drop_last is true: no step would be taken")
        return n_train // self.batch_size if self.drop_last else -(-n_train // self.batch_size)

    def checkpoint_steps(self, n_train: int) -> set[int]:
        """The steps of ``checkpoint_epochs`` inside the run (0 and the end always are)."""
        per_epoch = self.steps_per_epoch(n_train)
        steps = {round(e * per_epoch) for e in self.checkpoint_epochs}
        return {s for s in steps if 0 < s <= self.steps}

    def schedule(self) -> list[int]:
        """The two_layer probe times: ``probe_times`` and the end, else log-spaced ones."""
        if self.probe_times is not None:
            return sorted(set(self.probe_times) | {self.steps})
        return log_spaced_steps(self.steps, self.checkpoints)


GROUPS = {f.name: f.metadata["group"] for f in dataclasses.fields(TrainConfig) if f.metadata}


def _at_least(config: TrainConfig, keys: tuple[str, ...], bound: float, strict: bool) -> None:
    """Each of ``keys`` is > ``bound`` (``strict``) or >= it; NaN is refused either way."""
    for key in keys:
        value = getattr(config, key)
        if not (value > bound if strict else value >= bound):
            raise ValueError(f"train.{key} must be {'>' if strict else '>='} {bound:g}, "
                             f"got {value}")


def _check_objective(config: TrainConfig) -> None:
    names = list(CLOSED_FORM_LOSSES) if config.trainer == "two_layer" else sorted(LOSSES)
    if config.loss not in names:
        raise ValueError(f"train.loss must be one of {names}, got {config.loss!r}")


def _check_schedule(config: TrainConfig) -> None:
    _at_least(config, ("epochs",), 0, strict=True)
    _at_least(config, ("steps",), int(config.trainer == "two_layer"), strict=False)
    _at_least(config, ("checkpoints", "target_loss", "log_subset"), 0, strict=False)
    _at_least(config, ("check_every", "log_every"), 1, strict=False)
    if any(e < 0 for e in config.checkpoint_epochs):
        raise ValueError(f"train.checkpoint_epochs must be >= 0, got {config.checkpoint_epochs}")
    if config.probe_times is not None and any(not 0 <= t <= config.steps
                                              for t in config.probe_times):
        raise ValueError(f"train.probe_times must lie in [0, {config.steps}], got "
                         f"{list(config.probe_times)}")


def _check_optimizer(config: TrainConfig) -> None:
    if config.step not in STEPS:
        raise ValueError(f"train.step must be one of {sorted(STEPS)}, got {config.step!r}")
    if config.optimizer not in OPTIMIZERS:
        raise ValueError(f"train.optimizer must be one of {list(OPTIMIZERS)}, "
                         f"got {config.optimizer!r}")
    _at_least(config, ("lr",), 0, strict=True)
    # the ensemble takes minibatches only; the others read 0 as the full batch (GD)
    _at_least(config, ("batch_size",), 0, strict=config.trainer == "ensemble")
    if not 0 < config.lr_decay_per_epoch <= 1:
        raise ValueError(f"train.lr_decay_per_epoch must be in (0, 1], got "
                         f"{config.lr_decay_per_epoch}")


def _check_regularizers(config: TrainConfig) -> None:
    _at_least(config, (*STRENGTHS, "langevin_temperature"), 0, strict=False)
    _at_least(config, ("gc_projections",), 1, strict=False)
    # a share of each minibatch for a classifier; the regularized trainer's always is one
    share = config.trainer != "ensemble" or LOSSES[config.loss].classifier
    if share and config.label_noise > 1:
        raise ValueError(f"train.label_noise is a share of each minibatch for loss "
                         f"{config.loss!r}: it must be in [0, 1], got {config.label_noise}")


def _check_numerics(config: TrainConfig) -> None:
    if config.dtype not in DTYPES:
        raise ValueError(f"train.dtype must be one of {sorted(DTYPES)}, got {config.dtype!r}")
    if config.trainer == "two_layer" and config.dtype != "float64":
        raise ValueError("train.dtype must be float64 (docs/protocols/nakazato2024.md §4.7: "
                         "MSE losses reach 1e-28 and the finite-step probe cancels in "
                         f"float32), got {config.dtype!r}")


def make_train_config(trainer: str, values: dict[str, Any], where: str) -> TrainConfig:
    """``trainer``'s config from a ``train`` block, naming a key it does not read (with the
    key's group), an unknown key (with the allowed ones) and a wrongly typed value."""
    reads = TRAINERS[trainer].reads
    unknown = sorted(set(values) - set(GROUPS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: "
                          f"{', '.join(sorted(reads))}{did_you_mean(unknown[0], reads)}")
    not_read = sorted(set(values) - set(reads))
    if not_read:
        key = not_read[0]
        raise ConfigError(f"{where}: key {key} ({GROUPS[key]}) is not read by trainer "
                          f"{trainer}; it reads: {', '.join(sorted(reads))}")
    return make_dataclass_config(TrainConfig, {**reads, **values, "trainer": trainer}, where)
