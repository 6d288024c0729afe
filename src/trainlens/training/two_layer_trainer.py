"""nakazato2024 training (docs/protocols/nakazato2024.md §3): GD, minibatch SGD and Langevin on the
two-layer network,
every run of a group trained together in closed form, with the two-time kick of E3.

θ_{t+1} = θ_t − η |B_t|^{-1} Σ_{i∈B_t} ∇_θ ℓ_i (+ √(2ηT_L) ξ_t). Members may differ in seed,
data, activation, loss, batch size, lr and Langevin temperature: the minibatch becomes a weight
vector over all N training points (1/|B| on the batch, 0 elsewhere), so one batched forward and
one closed-form backward serve GD and every batch size at once, and the forward pass also gives
the full train accuracy of every step, hence t_c (docs/protocols/nakazato2024.md §4.3) exactly.
Activations are trained as
sub-ensembles, one after another, in the same process.

RNG streams (docs/protocols/nakazato2024.md §4.7): data and teacher from the run's "data" stream,
init from "init",
minibatch order from "order" (shuffled epochs), Langevin noise from "noise". In the two-time
experiment (§4.4) the perturbed copies read the draws of their reference run, so both branches
see identical minibatches and noise (pitfall 5).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any

import torch

from trainlens.members.two_layer import TwoLayerTrainConfig  # noqa: F401  (re-exported)
from trainlens.models.two_layer import Params, flatten, hidden, output, weighted_gradient
from trainlens.probes.response import loss_derivative
from trainlens.schedule import log_spaced_steps

CHUNK = 256  # steps whose minibatch weights and noise are drawn at once


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


class MinibatchStream:
    """One run's minibatches as weight rows over its N points: shuffled epochs without
    replacement, batches of ``batch_size`` (a shorter last one), weight 1/|B| on the batch."""

    def __init__(self, n: int, batch_size: int, generator: torch.Generator,
                 dtype: torch.dtype) -> None:
        self.n, self.generator, self.dtype = n, generator, dtype
        self.batch_size = n if batch_size == 0 or batch_size >= n else batch_size
        self._pending = torch.zeros(0, n, dtype=dtype)

    def weights(self, steps: int) -> torch.Tensor:
        """The next ``steps`` weight rows: (steps, N)."""
        if self.batch_size == self.n:  # GD: no draws
            return torch.full((steps, self.n), 1.0 / self.n, dtype=self.dtype)
        per_epoch = -(-self.n // self.batch_size)
        epochs = -(-(steps - len(self._pending)) // per_epoch)
        if epochs > 0:
            order = torch.argsort(torch.rand(epochs, self.n, generator=self.generator), dim=1)
            position = torch.arange(self.n)
            batch = position // self.batch_size
            sizes = torch.bincount(batch, minlength=per_epoch).to(self.dtype)
            rows = (torch.arange(epochs)[:, None] * per_epoch + batch[None, :]).flatten()
            fresh = torch.zeros(epochs * per_epoch, self.n, dtype=self.dtype)
            fresh[rows, order.flatten()] = (1.0 / sizes)[batch].repeat(epochs)
            self._pending = torch.cat([self._pending, fresh])
        out, self._pending = self._pending[:steps], self._pending[steps:]
        return out


@dataclass
class SubEnsemble:
    """The runs of one activation, stacked: R runs, expanded to E = R·(1 + n_tw) members in E3
    (run r's copy for waiting time w sits at index R·(w + 1) + r)."""

    activation: str
    losses: list[str]
    x: torch.Tensor  # (R, N, d)
    y: torch.Tensor  # (R, N)
    params: Params  # (R, ...) initial
    lr: torch.Tensor  # (R,)
    temperature: torch.Tensor  # (R,)
    streams: list[MinibatchStream]
    noise: list[torch.Generator]


@dataclass
class SubResult:
    first_interpolation: torch.Tensor  # (R,) t_c, −1 if never reached
    diverged_step: list[int | None]
    checkpoints: dict[int, Params]  # step -> runs' params (R, ...)
    two_time: list[dict[str, Any]]  # rows: run index, t_w, step, metric, value


def _loss_derivative(f: torch.Tensor, y: torch.Tensor, is_logistic: torch.Tensor
                     ) -> torch.Tensor:
    """ℓ' per member and example, each member with its own loss: (E, N)."""
    return torch.where(is_logistic[:, None], loss_derivative(f, y, "logistic"),
                       loss_derivative(f, y, "mse"))


def _kick(params: Params, x_p: torch.Tensor, y_p: torch.Tensor, is_logistic: torch.Tensor,
          step_size: torch.Tensor, activation: str) -> Params:
    """One step of size ``step_size`` on the single example (x_p, −y_p) for every member."""
    _, h, h_prime = hidden(params, x_p, activation)
    lp = _loss_derivative(output(params, h), -y_p, is_logistic)
    grads = weighted_gradient(params, x_p, lp, activation, h, h_prime)
    return {k: v - step_size.view(-1, *[1] * (v.dim() - 1)) * grads[k] for k, v in params.items()}


# C901 allowed: one of the three engines that issue 27 item 1 merges into one loop with steps
def train_sub_ensemble(sub: SubEnsemble, steps: int, save_steps: list[int],  # noqa: C901
                       two_time: TwoTimeConfig | None = None, label: str = "") -> SubResult:
    """Train ``sub`` for ``steps`` steps; checkpoints at ``save_steps`` (runs only), t_c and, with
    ``two_time``, χ, the mean squared displacement and the overlap at log-spaced τ."""
    runs = sub.x.shape[0]
    if two_time and not 0 <= two_time.probe_index < sub.x.shape[1]:
        raise ValueError(f"record.two_time.probe_index {two_time.probe_index} is not a training "
                         f"point index (N = {sub.x.shape[1]})")
    copies = 1 + (len(two_time.waiting_times) if two_time else 0)
    expand = lambda t: t.repeat(copies, *[1] * (t.dim() - 1))  # noqa: E731
    params = {k: expand(v).clone() for k, v in sub.params.items()}
    x, y = expand(sub.x), expand(sub.y)
    lr, temperature = expand(sub.lr), expand(sub.temperature)
    is_logistic = expand(torch.tensor([loss == "logistic" for loss in sub.losses]))
    noisy = bool((sub.temperature > 0).any())
    size = sum(v[0].numel() for v in params.values())
    first = torch.full((runs * copies,), -1, dtype=torch.long)
    finite = torch.ones(runs, dtype=torch.bool)
    diverged: list[int | None] = [None] * runs
    saves, taus = set(save_steps), (set(two_time.taus()) if two_time else set())
    checkpoints: dict[int, Params] = {}
    logged: list[tuple[int, int, str, torch.Tensor]] = []  # (t_w, step, metric, (R,) values)
    anchor: dict[int, torch.Tensor] = {}
    start, last_print = time.perf_counter(), time.perf_counter()
    for chunk_start in range(0, steps + 1, CHUNK):
        chunk = min(CHUNK, steps + 1 - chunk_start)
        weights = expand(torch.stack([s.weights(chunk) for s in sub.streams], 1)
                         .transpose(0, 1)).transpose(0, 1)  # (chunk, E, N)
        if noisy:
            draws = torch.stack([torch.randn(chunk, size, generator=g, dtype=x.dtype)
                                 for g in sub.noise], 1)  # (chunk, R, P)
        for offset in range(chunk):
            t = chunk_start + offset
            if two_time and t in two_time.waiting_times:
                w = two_time.waiting_times.index(t) + 1
                copy = slice(runs * w, runs * (w + 1))
                p = two_time.probe_index
                reference = {k: v[:runs].clone() for k, v in params.items()}
                kicked = _kick(reference, x[:runs, p:p + 1], y[:runs, p:p + 1],
                               is_logistic[:runs], two_time.kick * lr[:runs], sub.activation)
                for k in params:
                    params[k][copy] = kicked[k]
                anchor[t] = flatten(reference)
            _, h, h_prime = hidden(params, x, sub.activation)
            f = output(params, h)
            first = torch.where((first < 0) & ((f * y) > 0).all(1), t, first)
            if t in saves:
                checkpoints[t] = {k: v[:runs].clone() for k, v in params.items()}
            if two_time:
                _log_two_time(two_time, t, f, params, anchor, runs, taus, logged)
            if t == steps:
                break
            lp = _loss_derivative(f, y, is_logistic)
            grads = weighted_gradient(params, x, weights[offset] * lp, sub.activation, h,
                                      h_prime)
            for k in params:
                params[k] -= lr.view(-1, *[1] * (grads[k].dim() - 1)) * grads[k]
            if noisy:
                _langevin(params, expand(draws[offset]), lr, temperature)
        finite_now = torch.isfinite(f[:runs]).all(1)
        for r in torch.nonzero(finite & ~finite_now).flatten().tolist():
            diverged[r] = chunk_start  # within this chunk: later values are not measurements
        finite &= finite_now
        if time.perf_counter() - last_print > 20:
            last_print = time.perf_counter()
            print(f"[{label} {sub.activation}] step {t}/{steps} "
                  f"elapsed {last_print - start:.0f}s", file=sys.stderr, flush=True)
    rows = [{"run": r, "t_w": t_w, "step": step, "metric": metric, "value": float(v)}
            for t_w, step, metric, values in logged for r, v in enumerate(values.tolist())]
    return SubResult(first[:runs], diverged, checkpoints, rows)


def _langevin(params: Params, draws: torch.Tensor, lr: torch.Tensor,
              temperature: torch.Tensor) -> None:
    """θ += √(2ηT_L) ξ (docs/protocols/nakazato2024.md §3), ξ one flat draw per member split over
    a, W, b."""
    scale = torch.sqrt(2 * lr * temperature)
    offset = 0
    for v in params.values():
        count = v[0].numel()
        v += scale.view(-1, *[1] * (v.dim() - 1)) * draws[:, offset:offset + count].view(v.shape)
        offset += count


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
