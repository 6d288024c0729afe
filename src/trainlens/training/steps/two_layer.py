"""The nakazato2024 step (docs/protocols/nakazato2024.md §3): GD, minibatch SGD and Langevin on the
two-layer network, every run of a sub-ensemble (one activation) in closed form:

    θ_{t+1} = θ_t − η |B_t|^{-1} Σ_{i∈B_t} ∇_θ ℓ_i (+ √(2ηT_L) ξ_t).

Members may differ in seed, data, loss, batch size, lr and Langevin temperature: the minibatch
becomes a weight vector over all N training points (1/|B| on the batch, 0 elsewhere), so one
batched forward and one closed-form backward serve GD and every batch size at once, and the
forward pass also gives the full train accuracy of every step, hence t_c
(docs/protocols/nakazato2024.md §4.3) exactly.

Step s of the loop is the forward pass at θ_t, t = s − 1 (what the hooks see: t_c, checkpoints,
the two-time series), then the update to θ_{t+1}; the last step (t = ``steps``) only measures.
Minibatch weights and Langevin draws are drawn ``CHUNK`` steps at once; divergence is looked at,
and the job state saved, at the end of each chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from trainlens.losses import LOSSES
from trainlens.models.two_layer import Params, hidden, output, weighted_gradient
from trainlens.training.loop import Events

CHUNK = 256  # steps whose minibatch weights and noise are drawn at once


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


def loss_derivatives(f: torch.Tensor, y: torch.Tensor, is_logistic: torch.Tensor
                     ) -> torch.Tensor:
    """ℓ' per member and example, each member with its own loss: (E, N)."""
    return torch.where(is_logistic[:, None], LOSSES["logistic"].dz(f, y),
                       LOSSES["mse"].dz(f, y))


def kick(params: Params, x_p: torch.Tensor, y_p: torch.Tensor, is_logistic: torch.Tensor,
         step_size: torch.Tensor, activation: str) -> Params:
    """One step of size ``step_size`` on the single example (x_p, −y_p) for every member."""
    _, h, h_prime = hidden(params, x_p, activation)
    lp = loss_derivatives(output(params, h), -y_p, is_logistic)
    grads = weighted_gradient(params, x_p, lp, activation, h, h_prime)
    return {k: v - step_size.view(-1, *[1] * (v.dim() - 1)) * grads[k] for k, v in params.items()}


def langevin(params: Params, draws: torch.Tensor, lr: torch.Tensor,
             temperature: torch.Tensor) -> None:
    """θ += √(2ηT_L) ξ (docs/protocols/nakazato2024.md §3), ξ one flat draw per member split over
    a, W, b."""
    scale = torch.sqrt(2 * lr * temperature)
    offset = 0
    for v in params.values():
        count = v[0].numel()
        v += scale.view(-1, *[1] * (v.dim() - 1)) * draws[:, offset:offset + count].view(v.shape)
        offset += count


@dataclass
class Forward:
    """What hooks see after a step: the forward pass at θ_t of every member and copy (E, N)."""

    t: int
    f: torch.Tensor
    y: torch.Tensor
    params: Params  # θ_t (the step's update made new tensors)


class TwoLayerStep:
    """``sub``'s runs, repeated ``copies`` times (the two-time copies of E3, run r's copy w at
    index R·w + r), trained for ``steps`` steps (``total`` = steps + 1: the last one measures)."""

    freezes_diverged = False  # a diverged run trains on; its later values are dropped

    def __init__(self, sub: SubEnsemble, steps: int, copies: int) -> None:
        def expand(t: torch.Tensor) -> torch.Tensor:
            return t.repeat(copies, *[1] * (t.dim() - 1))

        self.sub, self.steps, self.total, self.expand = sub, steps, steps + 1, expand
        self.runs = self.n_members = sub.x.shape[0]
        self._params = {k: expand(v).clone() for k, v in sub.params.items()}
        self.x, self.y = expand(sub.x), expand(sub.y)
        self.lr, self.temperature = expand(sub.lr), expand(sub.temperature)
        self.is_logistic = expand(torch.tensor([loss == "logistic" for loss in sub.losses]))
        self.noisy = bool((sub.temperature > 0).any())
        self._chunk: tuple[int, torch.Tensor, torch.Tensor | None] | None = None

    def _draw(self, start: int) -> None:
        """The minibatch weights (chunk, E, N) and Langevin draws (chunk, R, P) of a chunk."""
        chunk = min(CHUNK, self.total - start)
        weights = self.expand(torch.stack([s.weights(chunk) for s in self.sub.streams], 1)
                              .transpose(0, 1)).transpose(0, 1)
        draws = None
        if self.noisy:
            size = sum(v[0].numel() for v in self._params.values())
            draws = torch.stack([torch.randn(chunk, size, generator=g, dtype=self.x.dtype)
                                 for g in self.sub.noise], 1)
        self._chunk = (start, weights, draws)

    def __call__(self, step: int) -> tuple[Forward, torch.Tensor | None]:
        t = step - 1
        if t % CHUNK == 0:
            self._draw(t)
        start, weights, draws = self._chunk
        params, activation = self._params, self.sub.activation
        _, h, h_prime = hidden(params, self.x, activation)
        f = output(params, h)
        if t < self.steps:
            lp = loss_derivatives(f, self.y, self.is_logistic)
            grads = weighted_gradient(params, self.x, weights[t - start] * lp, activation, h,
                                      h_prime)
            self._params = {k: v - self.lr.view(-1, *[1] * (grads[k].dim() - 1)) * grads[k]
                            for k, v in params.items()}
            if self.noisy:
                langevin(self._params, self.expand(draws[t - start]), self.lr, self.temperature)
        chunk_end = t + 1 == start + len(weights)
        finite = torch.isfinite(f[:self.runs]).all(1) if chunk_end else None
        return Forward(t, f, self.y, params), finite

    def blame(self, step: int) -> int:
        """A divergence is dated at the start of its chunk (later values are no measurements)."""
        return (step - 1) - (step - 1) % CHUNK

    def events(self, step: int) -> Events | None:
        return Events() if step % CHUNK == 0 or step == self.total else None

    def reached(self, step: int, keep: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(keep)

    def log_state(self, step: int) -> None:
        return None

    def params(self) -> Params:
        return self._params

    def compact(self, live: torch.Tensor) -> None:
        raise AssertionError("the two-layer step keeps every run")

    def state_dict(self) -> dict:
        return {"params": self._params,
                "streams": [(s.generator.get_state(), s._pending) for s in self.sub.streams],
                "noise": [g.get_state() for g in self.sub.noise]}

    def load_state_dict(self, state: dict) -> None:
        self._params = dict(state["params"])
        for stream, (generator, pending) in zip(self.sub.streams, state["streams"]):
            stream.generator.set_state(generator)
            stream._pending = pending
        for generator, saved in zip(self.sub.noise, state["noise"]):
            generator.set_state(saved)
