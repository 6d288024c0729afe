"""LossHook: the epoch's train loss and error are the means of the per-step batch means, the
epoch's shorter last batch included (loukas2021 §4.8)."""

from __future__ import annotations

import pytest
import torch

from trainlens.training.ensemble import EvalState, StepState
from trainlens.training.hooks import LossHook
from trainlens.training.losses import LOSSES
from trainlens.training.recorder import MetricLog


def test_epoch_means_of_batch_means_with_a_short_last_batch() -> None:
    loss, log = LOSSES["mse_half"], MetricLog(3)
    hook = LossHook(log)
    g = torch.Generator().manual_seed(0)
    batches = [(torch.randn(2, b, generator=g, dtype=torch.float64),
                torch.randn(2, b, generator=g, dtype=torch.float64)) for b in (4, 4, 1)]
    for step, (z, y) in enumerate(batches, start=1):
        hook.after_step(StepState(step, 0, 3, torch.ones(2), {}, {}, {}, z, z, y,
                                  loss.value(z, y), loss))
    z_test = torch.zeros(2, 5, dtype=torch.float64)
    hook.after_epoch(EvalState(3, 0, {}, z_test, z_test + 1, loss))
    frame = log.frame(["a", "b"]).set_index(["metric", "split", "run_id"])["value"]
    for member, run_id in enumerate("ab"):
        per_step = [(0.5 * (z[member] - y[member]) ** 2).mean() for z, y in batches]
        errors = [(z[member] - y[member]).abs().mean() for z, y in batches]
        assert frame["loss", "train", run_id] == pytest.approx(torch.stack(per_step).mean().item(),
                                                               rel=1e-14)
        assert frame["abs_error", "train", run_id] == pytest.approx(
            torch.stack(errors).mean().item(), rel=1e-14)
        assert frame["loss", "test", run_id] == 0.5
