"""Outcomes of one checkpoint: the loss and error on the full training and test sets.

The atlas study (issue 29) relates every measure to the checkpoint's generalization gap, which
needs the train and test loss of the very parameters the measures saw (the trainer logs its own
losses at other times, and on the visited minibatches). The loss is the run's training loss
(``Options.loss``, a ``trainlens.losses.LOSSES`` name): mean of ``value`` and of
``error`` over the examples. ``error`` is the loss's own per-example error, i.e. for the
loukas2021 losses |f − y| (MSE/2) and |σ(z) − y| (BCE) as in docs/protocols/loukas2021.md §4.8,
and the 0/1 error for the multi-class losses.

Measured in eval mode, without gradients, ``EVAL_CHUNK`` examples per forward (a full CIFAR
set in one forward does not fit); the model's mode is restored.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from trainlens.losses import LOSSES, Loss
from trainlens.probes.base import InputSet, Options, Row

EVAL_CHUNK = 1000  # examples per forward


def mean_loss_and_error(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss: Loss,
                        chunk: int = EVAL_CHUNK) -> tuple[float, float]:
    """(mean loss, mean error) of ``model`` over (x, y), ``chunk`` examples per forward.

    Sums are accumulated chunk by chunk as Python floats (float64) and divided by N once; the
    model's current mode is used (callers put it in eval mode)."""
    value = error = 0.0
    with torch.no_grad():
        for start in range(0, len(x), chunk):
            z = model(x[start:start + chunk])
            part = y[start:start + chunk]
            value += float(loss.value(z, part).sum())
            error += float(loss.error(z, part).sum())
    return value / len(x), error / len(x)


def outcome_rows(model: nn.Module, inputs: Mapping[str, InputSet], loss_name: str,
                 chunk: int = EVAL_CHUNK) -> list[Row]:
    """``checkpoint_loss`` and ``checkpoint_error`` of each input set (``train``: the full
    training set, as trained on: corrupted or noisy targets included; ``test``), in eval mode."""
    loss = LOSSES[loss_name]
    was_training = model.training
    model.eval()
    try:
        rows: list[Row] = []
        for name, batch in inputs.items():
            mean_loss, mean_error = mean_loss_and_error(model, batch.x, batch.y, loss, chunk)
            rows += [{"split": name, "metric": "checkpoint_loss", "value": mean_loss},
                     {"split": name, "metric": "checkpoint_error", "value": mean_error}]
        return rows
    finally:
        model.train(was_training)


def outcomes_probe(model: nn.Module, inputs: Mapping[str, InputSet], options: Options
                   ) -> list[Row]:
    """The ``outcomes`` probe: :func:`outcome_rows` with the run's training loss."""
    if options.loss is None:
        raise ValueError("the outcomes probe needs the run's train.loss")
    return outcome_rows(model, inputs, options.loss)
