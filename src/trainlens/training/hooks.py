"""Training hooks: losses, checkpoints and the loukas2021 window statistics; the loukas2021
bias-trajectory accumulators are in :mod:`trainlens.training.trajectory_hook` (re-exported).

Quantities that need every step (trajectory, update variance, distance) are accumulated online
here (design principle 3); everything else is measured later on checkpoints.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from trainlens.probes.trajectory import normalized_bias_step
from trainlens.training.ensemble import EvalState, Hook, StepState
from trainlens.training.job import save_checkpoint
from trainlens.training.recorder import MetricLog
from trainlens.training.trajectory_hook import BiasTrajectoryHook

__all__ = ["BiasTrajectoryHook", "CheckpointHook", "LossHook", "WindowHook"]


class LossHook(Hook):
    """Train loss and error as the mean of the per-step values within each epoch, and the test
    loss and error at the end of each epoch (loukas2021 §4.8); 0/1 test error for classifiers."""

    def __init__(self, log: MetricLog) -> None:
        self.log = log
        self._steps: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []

    def after_step(self, state: StepState) -> None:
        # kept, and reduced at the epoch's end: a step then costs no tensor operation
        self._steps.append((state.losses, state.z, state.y))

    def after_epoch(self, state: EvalState) -> None:
        loss_means, error_means = [], []
        for _, run in itertools.groupby(self._steps, key=lambda s: s[0].shape):  # last batch
            losses, z, y = (torch.stack(t) for t in zip(*run))  # (steps, M, B, ...)
            loss_means.append(losses.mean(dim=-1))
            error_means.append(state.loss.error(z, y).mean(dim=-1))
        self.log.log("loss", "train", state.step, torch.cat(loss_means).mean(0))
        self.log.log("abs_error", "train", state.step, torch.cat(error_means).mean(0))
        self._steps = []
        z, y = state.z_test, state.y_test
        self.log.log("loss", "test", state.step, state.loss.value(z, y).mean(dim=1))
        self.log.log("abs_error", "test", state.step, state.loss.error(z, y).mean(dim=1))
        if state.loss.classifier:
            predicted = (z > 0).long() if z.dim() == 2 else z.argmax(-1)
            self.log.log("zero_one_error", "test", state.step,
                         (predicted != y).to(torch.float64).mean(dim=1))


class CheckpointHook(Hook):
    """Saves the stacked parameters of all members at the scheduled steps (log-spaced)."""

    def __init__(self, directory: Path, schedule: Sequence[int], run_ids: list[str],
                 steps_per_epoch: int) -> None:
        self.directory, self.schedule = Path(directory), set(schedule)
        self.run_ids, self.steps_per_epoch = run_ids, steps_per_epoch
        self.directory.mkdir(parents=True, exist_ok=True)

    def _save(self, step: int, params: dict[str, torch.Tensor]) -> None:
        save_checkpoint(self.directory, step, step / self.steps_per_epoch, self.run_ids, params)

    def before_training(self, params: dict[str, torch.Tensor]) -> None:
        if 0 in self.schedule:
            self._save(0, params)

    def after_step(self, state: StepState) -> None:
        if state.step in self.schedule:
            self._save(state.step, state.params)


class WindowHook(Hook):
    """Per window of ``window`` iterations (loukas2021 E3, docs/protocols/loukas2021.md §3): the
    mean train loss, the mean τ_t and the full test loss at the window's end, as ``window_loss``
    (train, test) and ``window_trajectory`` (train), logged at the window's last step.

    τ_t is taken from the gradient (§4.9: E3 trains in float32), τ_t = ‖∇_{b1}ℓ_t‖ / mean ε_t with
    the paper's ε = |∂ℓ/∂f| (docs/protocols/loukas2021.md §2b P-a: the Lipschitz constant of the
    probability), which equals the normalised bias step of plain SGD; ``window_trajectory_logit``
    normalises by |∂ℓ/∂z| instead (the logit's λ, a labelled variant). ``test_outputs(params)``
    returns the members' outputs on their test sets, ``(x_test, y_test)`` stacked (M, N, ...).
    """

    def __init__(self, log: MetricLog, bias_name: str, window: int,
                 test_outputs: Callable[[dict[str, torch.Tensor]], torch.Tensor],
                 y_test: torch.Tensor) -> None:
        if window < 1:
            raise ValueError(f"record.window must be >= 1, got {window}")
        self.log, self.bias_name, self.window = log, bias_name, window
        self.test_outputs, self.y_test = test_outputs, y_test
        self._reset()

    def _reset(self) -> None:
        self._loss_sum: torch.Tensor | float = 0.0
        self._tau_sum: torch.Tensor | float = 0.0
        self._tau_n: torch.Tensor | float = 0.0
        self._logit_sum: torch.Tensor | float = 0.0
        self._logit_n: torch.Tensor | float = 0.0
        self._count = 0

    def after_step(self, state: StepState) -> None:
        grad_norm = state.grads[self.bias_name].to(torch.float64).norm(dim=1)
        loss, ones = state.loss, torch.ones_like(grad_norm)
        dz = loss.dz(state.z, state.y).to(torch.float64)
        epsilon = (loss.output_epsilon(state.z, state.y).to(torch.float64)
                   if loss.output_epsilon is not None else dz)
        tau = normalized_bias_step(grad_norm, ones, epsilon)
        logit = normalized_bias_step(grad_norm, ones, dz)
        self._loss_sum = self._loss_sum + state.losses.mean(dim=1).to(torch.float64)
        self._tau_sum = self._tau_sum + torch.nan_to_num(tau)
        self._tau_n = self._tau_n + torch.isfinite(tau)
        self._logit_sum = self._logit_sum + torch.nan_to_num(logit)
        self._logit_n = self._logit_n + torch.isfinite(logit)
        self._count += 1
        if state.step % self.window == 0:
            self.log.log("window_loss", "train", state.step, self._loss_sum / self._count)
            self.log.log("window_trajectory", "train", state.step, self._tau_sum / self._tau_n)
            if loss.classifier:
                self.log.log("window_trajectory_logit", "train", state.step,
                             self._logit_sum / self._logit_n)
            with torch.no_grad():
                z_test = self.test_outputs(state.params)
            test_loss = state.loss.value(z_test, self.y_test).mean(dim=1)
            self.log.log("window_loss", "test", state.step, test_loss)
            self._reset()

    def state_dict(self) -> dict:
        return {"loss_sum": self._loss_sum, "tau_sum": self._tau_sum, "tau_n": self._tau_n,
                "logit_sum": self._logit_sum, "logit_n": self._logit_n, "count": self._count}

    def load_state_dict(self, state: dict) -> None:
        self._loss_sum, self._tau_sum = state["loss_sum"], state["tau_sum"]
        self._tau_n, self._count = state["tau_n"], state["count"]
        self._logit_sum, self._logit_n = state["logit_sum"], state["logit_n"]
