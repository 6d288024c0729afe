"""nakazato2024 training (docs/protocols/nakazato2024.md §3): the closed-form two-layer step
(:mod:`trainlens.training.steps.two_layer`) in the one loop, with t_c, the checkpoints and the
two-time kick and series of E3 as hooks.

Activations are trained as sub-ensembles, one after another, in the same process. RNG streams
(docs/protocols/nakazato2024.md §4.7): data and teacher from the run's "data" stream, init from
"init", minibatch order from "order" (shuffled epochs), Langevin noise from "noise". In the
two-time experiment (§4.4) the perturbed copies read the draws of their reference run, so both
branches see identical minibatches and noise (pitfall 5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from trainlens.models.two_layer import Params, flatten
from trainlens.schedule import log_spaced_steps
from trainlens.training.job import JobState
from trainlens.training.loop import Hook, run_loop
from trainlens.training.steps.two_layer import (  # noqa: F401  (re-exported)
    Forward,
    MinibatchStream,
    SubEnsemble,
    TwoLayerStep,
    kick,
)


@dataclass(frozen=True)
class TwoTimeConfig:
    """E3 (docs/protocols/nakazato2024.md §4.4): at each t_w a copy takes one extra step of size
    kick·η on (x_p, −y_p)."""

    waiting_times: tuple[int, ...]
    tau_max: int
    kick: float = 1.0
    probe_index: int = 0
    tau_points: int = 40

    def taus(self) -> list[int]:
        """Log-spaced τ in [1, tau_max], τ = 1 included (χ is normalised by χ(τ = 1))."""
        return [t for t in log_spaced_steps(self.tau_max, self.tau_points) if t > 0]


@dataclass
class SubResult:
    first_interpolation: torch.Tensor  # (R,) t_c, −1 if never reached
    diverged_step: list[int | None]
    checkpoints: dict[int, Params]  # step -> runs' params (R, ...)
    two_time: list[dict[str, Any]]  # rows: run index, t_w, step, metric, value


class _Interpolation(Hook):
    """t_c: the first t at which every training point is classified correctly, per member."""

    def __init__(self, members: int) -> None:
        self.first = torch.full((members,), -1, dtype=torch.long)

    def after_step(self, state: Forward) -> None:
        self.first = torch.where((self.first < 0) & ((state.f * state.y) > 0).all(1), state.t,
                                 self.first)

    def state_dict(self) -> dict:
        return {"first": self.first}

    def load_state_dict(self, state: dict) -> None:
        self.first = state["first"]


class _Checkpoints(Hook):
    """The runs' parameters (not the copies') at the steps ``saves``, kept in memory."""

    def __init__(self, saves: list[int], runs: int) -> None:
        self.saves, self.runs, self.checkpoints = set(saves), runs, {}

    def after_step(self, state: Forward) -> None:
        if state.t in self.saves:
            self.checkpoints[state.t] = {k: v[:self.runs].clone() for k, v in state.params.items()}

    def state_dict(self) -> dict:
        return {"checkpoints": self.checkpoints}

    def load_state_dict(self, state: dict) -> None:
        self.checkpoints = dict(state["checkpoints"])


class _TwoTime(Hook):
    """E3: at each t_w, copy w of every run becomes the run kicked by one step of size kick·η
    on (x_p, −y_p) (the loop's one intervention); then χ, MSD and overlap at t_w + τ."""

    def __init__(self, two_time: TwoTimeConfig, runs: int) -> None:
        self.two_time, self.runs, self.taus = two_time, runs, set(two_time.taus())
        self.anchor: dict[int, torch.Tensor] = {}  # t_w -> the reference run's flat θ at t_w
        self.logged: list = []  # (t_w, step, metric, (R,) values)

    def before_step(self, step: int, trainer: TwoLayerStep) -> None:
        t, runs, p = step - 1, self.runs, self.two_time.probe_index
        if t not in self.two_time.waiting_times:
            return
        w = self.two_time.waiting_times.index(t) + 1
        params = trainer.params()
        reference = {k: v[:runs].clone() for k, v in params.items()}
        kicked = kick(reference, trainer.x[:runs, p:p + 1], trainer.y[:runs, p:p + 1],
                      trainer.is_logistic[:runs], self.two_time.kick * trainer.lr[:runs],
                      trainer.sub.activation)
        for k in params:
            params[k][runs * w:runs * (w + 1)] = kicked[k]
        self.anchor[t] = flatten(reference)

    def after_step(self, state: Forward) -> None:
        _log_two_time(self.two_time, state.t, state.f, state.params, self.anchor, self.runs,
                      self.taus, self.logged)

    def state_dict(self) -> dict:
        return {"anchor": self.anchor, "logged": [list(e) for e in self.logged]}

    def load_state_dict(self, state: dict) -> None:
        self.anchor = dict(state["anchor"])
        self.logged = [tuple(e) for e in state["logged"]]


def train_sub_ensemble(sub: SubEnsemble, steps: int, save_steps: list[int],
                       two_time: TwoTimeConfig | None = None, label: str = "",
                       job: JobState | None = None, part: int = 0) -> SubResult:
    """Train ``sub`` for ``steps`` steps; checkpoints at ``save_steps`` (runs only), t_c and, with
    ``two_time``, χ, the mean squared displacement and the overlap at log-spaced τ. With ``job``,
    part ``part`` of the job resumes from its saved state and saves it (``run_loop``)."""
    runs = sub.x.shape[0]
    if two_time and not 0 <= two_time.probe_index < sub.x.shape[1]:
        raise ValueError(f"record.two_time.probe_index {two_time.probe_index} is not a training "
                         f"point index (N = {sub.x.shape[1]})")
    copies = 1 + (len(two_time.waiting_times) if two_time else 0)
    step = TwoLayerStep(sub, steps, copies)
    first, saved = _Interpolation(runs * copies), _Checkpoints(save_steps, runs)
    hooks: list[Hook] = [first, saved] + ([_TwoTime(two_time, runs)] if two_time else [])
    result = run_loop(step, hooks, job, part, label=f"{label} {sub.activation}")
    logged = hooks[2].logged if two_time else []
    rows = [{"run": r, "t_w": t_w, "step": s, "metric": metric, "value": float(v)}
            for t_w, s, metric, values in logged for r, v in enumerate(values.tolist())]
    return SubResult(first.first[:runs], result.diverged_step, saved.checkpoints, rows)


def _log_two_time(two_time: TwoTimeConfig, t: int, f: torch.Tensor, params: Params,
                  anchor: dict[int, torch.Tensor], runs: int, taus: set[int],
                  logged: list) -> None:
    """χ at x_p and the mean over the other points, MSD and overlap of the reference run, at
    τ = t − t_w for each waiting time already passed (docs/protocols/nakazato2024.md §4.4)."""
    p = two_time.probe_index
    due = [(w, t_w) for w, t_w in enumerate(two_time.waiting_times, start=1) if t - t_w in taus]
    theta = flatten({k: v[:runs] for k, v in params.items()}) if due else None
    for w, t_w in due:
        difference = (f[runs * w:runs * (w + 1)] - f[:runs]).abs()
        others = torch.cat([difference[:, :p], difference[:, p + 1:]], 1)
        start = anchor[t_w]
        msd = ((theta - start) ** 2).mean(1)
        overlap = torch.nn.functional.cosine_similarity(theta, start, dim=1)
        for metric, values in (("chi_probe", difference[:, p]), ("chi_others", others.mean(1)),
                               ("msd", msd), ("overlap", overlap)):
            logged.append((t_w, t, metric, values.clone()))
