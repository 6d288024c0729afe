"""The loukas2021 bias-trajectory hook: per-step quantities of the first-layer bias b1,
accumulated online (design principle 3) and logged per epoch
(docs/protocols/loukas2021.md §4.1, §4.5-4.7, §2b P-a, P-e, P-f).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np
import torch

from trainlens.probes.trajectory import normalized_bias_step, official_cnn_epsilon, window_variance
from trainlens.training.ensemble import EvalState, Hook, StepState
from trainlens.training.recorder import MetricLog


class BiasTrajectoryHook(Hook):
    """Per-step loukas2021 quantities of b1, vectorised over members.

    Logged per epoch (split "train"):

    - ``trajectory``: T_k = Σ_{t∈epoch k} τ_t, the epoch **sum** of the paper's Figs 1b/1e
      (§2b P-e), with the primary τ_t = ‖Δb_t‖/(η_t·ε_t), the paper's ε = |∂ℓ/∂f| (§2b P-a: the
      Lipschitz constant of the output f at the visited sample, at θ_{t−1});
      ``trajectory_mean``: the epoch mean of the same τ_t (the suite's earlier T_k, a labelled
      variant; τ_last10 of the claims is its mean over the last 10 epochs);
    - ``trajectory_logit`` (sigmoid classifiers only): Σ ‖Δb_t‖/(η_t·|∂ℓ/∂z|), the logit's λ,
      the suite's earlier classifier normalisation (labelled variant);
    - ``trajectory_raw``: Σ ‖Δb_t‖/η_t (variant c); ``trajectory_official`` (variant a:
      ‖B̄_{t+1} − B̄_t‖/(η_t ē_t)/N with b and |e| averaged over the repeats of a configuration
      first, P12/P14; identical for the seeds of one configuration);
      ``trajectory_official_cnn`` (variant b, with ``official_epsilon``: Σ_{t≥2} ‖Δb_t‖/(η_{t−1}
      ε_{t−1})/N, ε = |1 − p − y| (P13), first step of each epoch dropped, as the official code);
    - ``update_variance``: Corollary 2's variance avg_{t∈T}‖b_t − avg_{t∈T} b_t‖² over one
      window T of the last ``variance_epochs`` epochs (fewer at the start), no division by η²
      (§2b P-f); its value at the last epoch is the paper's V. ``update_variance_epoch``: the
      suite's earlier V_k = mean_{t∈k}‖b_t − b̄_k‖²/η_t² per epoch (labelled variant);
    - ``distance_from_init`` mean and ``distance_from_init_max`` max of ‖b_t − b_0‖ (Corollary
      3, true init, §4.7); ``distance_from_first_step`` (faithful, P15).

    Per step, every ``ema_every`` steps: ``lipschitz_visited_ema``, the EMA (w = 0.95) of the
    primary τ_t. ``trace`` keeps per-step τ, ε, |ℓ'| and b in memory (E1a and the U1 test).

    ``from_gradient`` (§4.9, for float32 runs such as E1b and E3): without momentum Δb_t =
    −η_t ∇_{b1}ℓ_t exactly, so ‖Δb_t‖ is taken as η_t‖∇_{b1}ℓ_t‖ instead of differencing float32
    biases; ``bias_step_check`` then logs the epoch's relative gap between the two,
    Σ|‖Δb_t‖ − η_t‖∇_{b1}ℓ_t‖| / Σ η_t‖∇_{b1}ℓ_t‖ (float32 rounding of b shows up there).
    """

    CHUNK_STEPS = 256  # steps held before their statistics are computed (b: 256 × M × d)

    def __init__(self, log: MetricLog, bias_name: str, repeat_groups: Sequence[Sequence[int]],
                 ema_every: int = 1, ema_weight: float = 0.95, trace: bool = False,
                 official_epsilon: bool = False, from_gradient: bool = False,
                 variance_epochs: int = 10) -> None:
        self.log, self.bias_name, self.trace = log, bias_name, trace
        self.ema_every, self.ema_weight = ema_every, ema_weight
        self.official_epsilon, self.from_gradient = official_epsilon, from_gradient
        self.variance_epochs = variance_epochs
        n_members = sum(len(g) for g in repeat_groups)
        # (M, M) matrix that replaces each member's value by its configuration's repeat mean.
        average = np.zeros((n_members, n_members))
        for group in repeat_groups:
            average[np.ix_(group, group)] = 1.0 / len(group)
        self._repeat_mean = torch.from_numpy(average)
        self._logit = False  # set from the loss: a sigmoid classifier also logs the logit variant
        self.traces: dict[str, list[torch.Tensor]] = {"tau": [], "epsilon": [],
                                                      "abs_dloss_dz": [], "bias": []}

    def before_training(self, params: dict[str, torch.Tensor]) -> None:
        b0 = params[self.bias_name].detach().to(torch.float64)
        self._repeat_mean = self._repeat_mean.to(b0.device)
        self._b0, self._b_first = b0.clone(), None
        self._ema: torch.Tensor | None = None
        self._official_prev: tuple[torch.Tensor, torch.Tensor] | None = None  # (B̄, η·ē)
        self._cnn_prev: torch.Tensor | None = None  # η·ε of the previous step
        # per epoch of the variance window: (n, b_ref, Σ(b − b_ref), Σ‖b − b_ref‖²)
        self._window: deque = deque(maxlen=self.variance_epochs)
        self._reset_epoch(b0)
        if self.trace:
            self.traces["bias"].append(b0.clone())

    def _reset_epoch(self, b_ref: torch.Tensor) -> None:
        zeros = torch.zeros(b_ref.shape[0], dtype=torch.float64, device=b_ref.device)
        self._sums = {k: zeros.clone() for k in
                      ("tau", "tau_n", "logit", "raw", "official", "cnn", "dist", "c2")}
        self._step_gap, self._step_size = zeros.clone(), zeros.clone()
        self._dist_max = zeros.clone()
        self._c_sum = torch.zeros_like(b_ref)
        self._b_ref, self._n = b_ref.clone(), 0
        self._b_last = b_ref.clone()  # b_{t-1} of the next step
        self._chunk: dict[str, torch.Tensor] | None = None

    def after_step(self, state: StepState) -> None:
        """Copy this step's b1, outputs and targets (and the b1 gradient) into the chunk; the
        statistics are computed for a whole chunk at once (``_flush``). A step costs a few
        copies instead of some forty small tensor operations: at batch size 1 those took a third
        of a compiled loukas2021 E1a step. ``lr`` is constant within an epoch."""
        chunk = self._chunk
        if chunk is not None and (self._filled == len(chunk["b"])
                                  or chunk["z"].shape[1:] != state.z.shape):
            self._flush()  # full, or the epoch's shorter last batch
            chunk = None
        if chunk is None:
            size = min(state.steps_per_epoch, self.CHUNK_STEPS)
            like = state.params[self.bias_name]
            chunk = {"b": torch.empty(size, *like.shape, dtype=torch.float64, device=like.device),
                     "z": state.z.new_empty(size, *state.z.shape),
                     "y": state.y.new_empty(size, *state.y.shape)}
            if self.from_gradient:
                chunk["g"] = torch.empty_like(chunk["b"])
            self._chunk, self._filled, self._chunk_first_step = chunk, 0, state.step
            self._lr = state.lr.to(torch.float64)
            self._steps_per_epoch, self._loss = state.steps_per_epoch, state.loss
            self._logit = bool(state.loss.classifier and state.loss.output_epsilon is not None)
        k = self._filled
        chunk["b"][k].copy_(state.params[self.bias_name].detach())
        chunk["z"][k].copy_(state.z)
        chunk["y"][k].copy_(state.y)
        if self.from_gradient:
            chunk["g"][k].copy_(state.grads[self.bias_name])
        self._filled = k + 1

    def _flush(self) -> None:
        """The per-step quantities of the chunk's n steps, vectorised over the step axis, added
        to the epoch's sums (the same formulas per step as written out in the class doc)."""
        if self._chunk is None or self._filled == 0:
            return
        n, lr, loss = self._filled, self._lr, self._loss
        chunk = {k: v[:n] for k, v in self._chunk.items()}
        self._chunk = None
        b = chunk["b"]  # (n, M, d): b_t
        b_prev = torch.cat([self._b_last.unsqueeze(0), b[:-1]])
        step_norm = (b - b_prev).norm(dim=-1)  # (n, M)
        if self.from_gradient:
            from_grad = lr * chunk["g"].to(torch.float64).norm(dim=-1)
            self._step_gap += (step_norm - from_grad).abs().sum(0)
            self._step_size += from_grad.sum(0)
            step_norm = from_grad
        z, y = chunk["z"], chunk["y"]
        dz = loss.dz(z, y).to(torch.float64)  # (n, M, B): ∂ℓ/∂z
        epsilon = (loss.output_epsilon(z, y).to(torch.float64) if loss.output_epsilon is not None
                   else dz.abs())  # the paper's ε = |∂ℓ/∂f| (§2b P-a)
        tau = normalized_bias_step(step_norm, lr, epsilon)
        s = self._sums
        s["tau"] += torch.nan_to_num(tau).sum(0)
        s["tau_n"] += torch.isfinite(tau).sum(0)
        if self._logit:
            s["logit"] += torch.nan_to_num(normalized_bias_step(step_norm, lr, dz)).sum(0)
        s["raw"] += (step_norm / lr).sum(0)
        self._official_mlp(b, lr * (dz.abs().mean(dim=-1) @ self._repeat_mean.T))
        if self.official_epsilon:
            lr_eps = lr * official_cnn_epsilon(loss.probability(z), y).to(torch.float64)
            previous = torch.cat([lr_eps[:1] if self._cnn_prev is None
                                  else self._cnn_prev.unsqueeze(0), lr_eps[:-1]])
            terms = step_norm / previous
            skip = 1 if self._n == 0 else 0  # the first step of an epoch adds 0
            s["cnn"] += terms[skip:].sum(0)
            self._cnn_prev = lr_eps[-1]
        distance = (b - self._b0).norm(dim=-1)
        s["dist"] += distance.sum(0)
        self._dist_max = torch.maximum(self._dist_max, distance.max(0).values)
        if self._b_first is None:
            self._b_first = b[0].clone()
        # Variance about the epoch (or window) mean, from offsets to the epoch's first bias: the
        # offsets avoid the cancellation of Σ‖b‖² − n‖b̄‖².
        c = b - self._b_ref
        self._c_sum += c.sum(0)
        s["c2"] += (c * c).sum(dim=(0, 2))
        tau_value = torch.where(torch.isfinite(tau), tau, torch.zeros_like(tau))
        self._log_ema(tau_value, self._chunk_first_step)
        self._n += n
        self._b_last = b[-1].clone()
        if self.trace:
            self.traces["tau"] += list(tau.unbind(0))
            self.traces["epsilon"] += list(epsilon.mean(dim=-1).unbind(0))
            self.traces["abs_dloss_dz"] += list(dz.abs().mean(dim=-1).unbind(0))
            self.traces["bias"] += list(b.unbind(0))  # a chunk's buffer is never reused

    def _official_mlp(self, b: torch.Tensor, lr_e_bar: torch.Tensor) -> None:
        """Variant (a): repeat-averaged b and |e| (``lr_e_bar`` = η·ē, (n, M)), the bias
        difference of step t divided by the lr and error of step t−1 (off by one, as in the
        official code)."""
        b_bar = self._repeat_mean @ b  # (n, M, d)
        if self._official_prev is not None:
            prev_b_bar = torch.cat([self._official_prev[0].unsqueeze(0), b_bar[:-1]])
            prev_lr_e = torch.cat([self._official_prev[1].unsqueeze(0), lr_e_bar[:-1]])
            official = (b_bar - prev_b_bar).norm(dim=-1) / prev_lr_e
        else:  # the first step of training has no previous one
            official = (b_bar[1:] - b_bar[:-1]).norm(dim=-1) / lr_e_bar[:-1]
        self._sums["official"] += official.sum(0) / self._steps_per_epoch
        self._official_prev = (b_bar[-1], lr_e_bar[-1])

    def _log_ema(self, tau: torch.Tensor, first_step: int) -> None:
        """The EMA s_t = w·s_{t−1} + (1 − w)·τ_t over the chunk's steps (s = τ at the first step
        of training), in closed form: s_{t0+k} = w^{k+1}·s_{t0−1} + Σ_{j≤k} (1 − w)·w^{k−j}·τ_j;
        logged at the steps that are multiples of ``ema_every``."""
        n, w = tau.shape[0], self.ema_weight
        previous = tau[0] if self._ema is None else self._ema
        k = torch.arange(n, dtype=torch.float64, device=tau.device)
        lag = k.unsqueeze(1) - k.unsqueeze(0)  # k − j
        weights = torch.where(lag >= 0, (1 - w) * w ** lag.clamp_min(0), 0.0)
        ema = weights @ tau + w ** (k + 1).unsqueeze(1) * previous
        if self._ema is None:
            ema[0] = tau[0]  # s_0 = τ_0 exactly
        for index in range(n):
            step = first_step + index
            if step % self.ema_every == 0:
                self.log.log("lipschitz_visited_ema", "train", step, ema[index])
        self._ema = ema[-1]

    def after_epoch(self, state: EvalState) -> None:
        self._flush()
        s, n, step, log = self._sums, self._n, state.step, self.log
        log.log("trajectory", "train", step, s["tau"])
        log.log("trajectory_mean", "train", step, s["tau"] / s["tau_n"])
        if self._logit:
            log.log("trajectory_logit", "train", step, s["logit"])
        log.log("trajectory_raw", "train", step, s["raw"])
        log.log("trajectory_official", "train", step, s["official"])
        if self.official_epsilon:
            log.log("trajectory_official_cnn", "train", step, s["cnn"] / n)
        if self.from_gradient:
            log.log("bias_step_check", "train", step, self._step_gap / self._step_size)
        mean_c = self._c_sum / n
        variance = (s["c2"] / n - (mean_c * mean_c).sum(dim=1)) / self._lr**2
        log.log("update_variance_epoch", "train", step, variance.clamp_min(0.0))
        self._window.append((n, self._b_ref, self._c_sum, s["c2"]))
        log.log("update_variance", "train", step, window_variance(*zip(*self._window)))
        log.log("distance_from_init", "train", step, s["dist"] / n)
        log.log("distance_from_init_max", "train", step, self._dist_max)
        b = state.params[self.bias_name].detach().to(torch.float64)
        log.log("distance_from_first_step", "train", step, (b - self._b_first).norm(dim=1))
        self._reset_epoch(b)

    def state_dict(self) -> dict:
        """State at an epoch boundary (the per-epoch sums are empty there)."""
        return {"b0": self._b0, "b_first": self._b_first, "ema": self._ema, "b_ref": self._b_ref,
                "official_prev": None if self._official_prev is None else list(self._official_prev),
                "cnn_prev": self._cnn_prev, "window": [list(epoch) for epoch in self._window],
                "traces": {k: torch.stack(v) if v else None for k, v in self.traces.items()}}

    def load_state_dict(self, state: dict) -> None:
        self._b0, self._b_first, self._ema = state["b0"], state["b_first"], state["ema"]
        prev = state["official_prev"]
        self._official_prev = None if prev is None else tuple(prev)
        self._cnn_prev = state["cnn_prev"]
        self._window = deque((tuple(epoch) for epoch in state["window"]),
                             maxlen=self.variance_epochs)
        self._repeat_mean = self._repeat_mean.to(state["b_ref"].device)
        self._reset_epoch(state["b_ref"])
        self.traces = {k: [] if v is None else list(v.unbind(0))
                       for k, v in state["traces"].items()}

    def trace_arrays(self) -> dict[str, np.ndarray]:
        """Per-step traces: tau, epsilon, abs_dloss_dz (T, M), bias (T+1, M, d) from b_0."""
        return {k: torch.stack(v).numpy() for k, v in self.traces.items() if v}
