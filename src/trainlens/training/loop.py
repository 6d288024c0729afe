"""The one training loop, whatever the step (docs/design.md "Rooms"): it counts the steps, calls
the hooks, keeps the divergence and stop records of every member, drops stopped members from the
step's vmapped state, hands the members' parameters to the checkpoint hooks, prints progress and
saves the job's resumable state.

A step (``training/steps/<name>.py``) owns its parameters, its random streams and its update;
the loop asks it, after each step, whether this step is a *boundary* (``Step.events``): only
there does the loop read anything back from the device (divergence, stops), log, checkpoint or
save its state, so that between boundaries the device runs ahead. Divergence is located exactly
all the same: the step returns a (live members,) finiteness flag per step, kept on the device and
folded at the next boundary (the first non-finite step of each member).

Hooks see the step's own state objects (an ensemble's ``StepState``, the two-layer forward pass)
and must not modify the parameters, except the one intervention allowed: ``before_step`` (the
two-time kick of nakazato2024 E3, docs/protocols/nakazato2024.md §4.4, at its scheduled steps).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from trainlens.training.job import JobState, to_device
from trainlens.training.progress import Progress

Params = dict[str, torch.Tensor]


class Hook:
    """Base class: override what you need. Only ``before_step`` may modify the parameters."""

    def before_training(self, params: Params) -> None: ...

    def before_step(self, step: int, trainer: Step) -> None:
        """Before step ``step`` (1-based) is taken; the two-time kick's scheduled intervention."""

    def after_step(self, state: Any) -> None: ...

    def after_log(self, state: Any) -> None:
        """At a logging boundary (an ensemble's epoch end: ``after_epoch``)."""
        self.after_epoch(state)

    def after_epoch(self, state: Any) -> None: ...

    def at_checkpoint(self, step: int, params: Params) -> None:
        """At a step the step's schedule checkpoints (not the last: ``after_training``)."""

    def after_training(self, params: Params, step: int) -> None: ...

    def state_dict(self) -> dict:
        """What the hook needs to resume at a boundary (tensors, numbers, strings)."""
        return {}

    def load_state_dict(self, state: dict) -> None: ...


@dataclass(frozen=True)
class Events:
    """What happens at a boundary: ``log`` (the log hooks run), ``save`` (a scheduled
    checkpoint), ``check`` (the step's stopping rule is evaluated), ``resumable`` (the job state
    may be saved here: every accumulator a hook keeps between boundaries is empty)."""

    log: bool = False
    save: bool = False
    check: bool = False
    resumable: bool = True


class Step(Protocol):
    """What the loop asks of a step (``training/steps/``)."""

    total: int  # steps to take
    n_members: int
    freezes_diverged: bool  # a diverged member leaves the live state (else it trains on)

    def __call__(self, step: int) -> tuple[Any, torch.Tensor | None]:
        """Take step ``step``: (the state the hooks see, (live,) finiteness or None)."""

    def blame(self, step: int) -> int:
        """The step a non-finite flag returned at ``step`` is recorded at."""

    def events(self, step: int) -> Events | None:
        """None between boundaries."""

    def reached(self, step: int, keep: torch.Tensor) -> torch.Tensor:
        """(live,) bool: members of ``keep`` that meet the stopping rule now."""

    def log_state(self, step: int) -> Any: ...

    def params(self) -> Params:
        """Every member's current parameters (what hooks and checkpoints see)."""

    def compact(self, live: torch.Tensor) -> None:
        """Train only the members ``live`` (indices) from now on."""

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


def first_non_finite(first_bad: torch.Tensor, finite: list[torch.Tensor], at: list[int]
                     ) -> torch.Tensor:
    """``first_bad`` (M,; -1 while finite) with the first of the steps ``at`` whose ``finite``
    flag (one (M,) tensor per step) is false, for members that had none before."""
    if not finite:
        return first_bad
    bad = ~torch.stack(finite)  # (steps, M)
    steps = torch.tensor(at, dtype=first_bad.dtype, device=first_bad.device)
    first = steps[bad.to(torch.int32).argmax(dim=0)]  # argmax: the first maximum
    return torch.where((first_bad < 0) & bad.any(dim=0), first, first_bad)


class Book:
    """The divergence and stop records of every member, and which members still train
    (``live``: their indices, in the order of the step's vmapped state)."""

    def __init__(self, n_members: int) -> None:
        self.live = list(range(n_members))
        self.diverged: list[int | None] = [None] * n_members
        self.stopped: list[int | None] = [None] * n_members
        self._reset()

    def _reset(self) -> None:
        self.first_bad = torch.full((len(self.live),), -1, dtype=torch.long)
        self._flags: list[torch.Tensor] = []
        self._at: list[int] = []

    def record(self, finite: torch.Tensor, at: int) -> None:
        self._flags.append(finite)
        self._at.append(at)

    def fold(self) -> torch.Tensor:
        """(live,) the first non-finite step of each live member since it went live, or -1."""
        if self._flags:
            self.first_bad = first_non_finite(self.first_bad.to(self._flags[0].device),
                                              self._flags, self._at)
            self._flags, self._at = [], []
        return self.first_bad

    def drop(self, keep: torch.Tensor) -> None:
        self.live = [m for m, k in zip(self.live, keep.tolist()) if k]
        self._reset()

    def state_dict(self) -> dict:
        return {"live": self.live, "diverged": self.diverged, "stopped": self.stopped,
                "first_bad": self.fold()}

    def load_state_dict(self, state: dict) -> None:
        self.live, self.diverged = list(state["live"]), list(state["diverged"])
        self.stopped = list(state["stopped"])
        self._reset()
        self.first_bad = state["first_bad"]


@dataclass
class LoopResult:
    steps: int
    diverged_step: list[int | None]
    stop_step: list[int | None]
    wall_time_s: float


def _boundary(step: Step, hooks: Sequence[Hook], book: Book, t: int, events: Events) -> bool:
    """Divergence, stops, logs, checkpoints and compaction at a boundary; whether it is the
    last step (the end, or every member stopped)."""
    bad = book.fold()
    # host reads only where something can change: a step that freezes diverged members, a
    # stopping check, the end
    keep = bad < 0 if step.freezes_diverged else None
    if events.check:
        keep = keep if keep is not None else torch.ones_like(bad, dtype=torch.bool)
        reached = step.reached(t, keep)
        for position in reached.nonzero().flatten().tolist():
            book.stopped[book.live[position]] = t
        keep = keep & ~reached
    changed = keep is not None and not bool(keep.all())
    last = t == step.total or (changed and not bool(keep.any()))
    if changed or last:
        for position, bad_step in enumerate(bad.tolist()):
            if bad_step >= 0 and book.diverged[book.live[position]] is None:
                book.diverged[book.live[position]] = bad_step
    if events.log or changed or last:
        state = step.log_state(t)
        for hook in hooks:
            hook.after_log(state)
    if events.save and not last:
        params = step.params()
        for hook in hooks:
            hook.at_checkpoint(t, params)
    if changed and not last:
        book.drop(keep.cpu())
        step.compact(torch.tensor(book.live, device=keep.device))
    return last


def run_loop(step: Step, hooks: Sequence[Hook] = (), job: JobState | None = None,
             part: int = 0, keep: Sequence[Any] = (), label: str = "") -> LoopResult:
    """Train ``step`` for ``step.total`` steps (fewer when every member stopped) with ``hooks``.

    With ``job``, the loop resumes from the saved state of its ``part`` and saves its state
    (the step's, the records', each hook's and each object of ``keep``: a metric log) at
    resumable boundaries, at most once per the job's interval, and at the end."""
    start = time.perf_counter()
    book, t, elapsed = Book(step.n_members), 0, 0.0
    saved = job.loop_state(part) if job is not None else None
    if saved is None:
        for hook in hooks:
            hook.before_training(step.params())
    else:
        t, elapsed = saved["t"], saved["wall_time_s"]
        book.load_state_dict(saved["book"])
        step.load_state_dict(saved["step"])
        device = next(iter(step.params().values())).device
        for stateful, state in zip([*hooks, *keep], saved["hooks"]):
            stateful.load_state_dict(to_device(state, device))  # saved states load on the CPU
    # only hooks that intervene are called before each step (a step at B = 1 is microseconds)
    intervening = [h for h in hooks if type(h).before_step is not Hook.before_step]
    progress = Progress(label, step.total, first=t)
    while t < step.total:
        t += 1
        for hook in intervening:
            hook.before_step(t, step)
        state, finite = step(t)
        if finite is not None:
            book.record(finite, step.blame(t))
        for hook in hooks:
            hook.after_step(state)
        events = step.events(t)
        if events is None:
            continue
        last = _boundary(step, hooks, book, t, events)
        if job is not None and events.resumable and (last or job.due()):
            job.save(part, {"t": t, "book": book.state_dict(), "step": step.state_dict(),
                            "hooks": [s.state_dict() for s in [*hooks, *keep]],
                            "wall_time_s": elapsed + time.perf_counter() - start})
        progress.update(t, f", {len(book.live)} members training")
        if last:
            break
    params = step.params()
    for hook in hooks:
        hook.after_training(params, t)
    progress.close()
    return LoopResult(t, book.diverged, book.stopped, elapsed + time.perf_counter() - start)
