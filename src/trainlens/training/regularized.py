"""dherin2022 training (docs/protocols/dherin2022.md §3-4): an ensemble whose members differ by
their regulariser.

Every member of a group shares the architecture, loss, optimizer and batch size; each has its own
seed (data order, init, label noise, input noise, Hutchinson probes and power-iteration vectors
come from separate streams, docs/protocols/dherin2022.md §4 "Random streams") and its own strengths,
all vmapped:

    objective_m = L_B(θ; x + σ_m ε, ỹ) + λ^spec_m Σ_l σ_max(W_l)² + μ_m ‖∇_θ L_B‖² + λ^GC_m GĈ_B(θ)

- L2 is torch's ``weight_decay`` (the gradient gains λθ, i.e. a (λ/2)‖θ‖² loss term for SGD;
  weights and biases decay, docs/protocols/dherin2022.md §4 "Regularizer conventions");
- σ_max by one power iteration per step from vectors kept across steps (Yoshida & Miyato 2017;
  conv kernels reshaped to (out, in·kh·kw), docs/protocols/dherin2022.md §7 pitfall 8);
- ỹ: label-noise SGD, a fresh fraction p_m of every minibatch relabelled with another class at
  every step (``train.label_noise``; docs/protocols/dherin2022.md §2b D-b); labels corrupted once
  and kept fixed are the data's ``label_noise`` instead (the labelled variant);
- the flatness penalty μ‖∇_θ L_B‖² and the GC penalty (Hutchinson, ``gc_projections`` Rademacher
  projections) by double backprop on the current minibatch.

A term whose strength is 0 for every member is not computed. With ``target_loss`` a member stops
(its parameters freeze) at the first check where its full train loss is below the target: the
matched-loss comparison of E7/E8 (docs/protocols/dherin2022.md §7 pitfall 5). A member whose loss
turns non-finite is
frozen and marked diverged; the others train on.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8  # torch.optim.Adam's defaults


def spectral_weight_names(params: dict[str, torch.Tensor]) -> list[str]:
    """The weight matrices and conv kernels (stacked: member axis first, so dim > 2)."""
    return [name for name, p in params.items() if p.dim() > 2]


def as_matrix(weight: torch.Tensor) -> torch.Tensor:
    """A member's weight as (out, in·kh·kw): the reshaped kernel of docs/protocols/dherin2022.md §7
    pitfall 8."""
    return weight.reshape(weight.shape[0], -1)


@torch.no_grad()
def power_iteration(weights: dict[str, torch.Tensor], u: dict[str, torch.Tensor]
                    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """One power-iteration step per stacked weight (M, out, ...): v = Wᵀu/‖Wᵀu‖, u = Wv/‖Wv‖.
    Returns the new (u, v); σ_max ≈ uᵀWv, differentiable in W when evaluated with these."""
    new_u, new_v = {}, {}
    for name, w in weights.items():
        matrix = w.reshape(w.shape[0], w.shape[1], -1)
        v = F.normalize(torch.einsum("mo,moi->mi", u[name], matrix), dim=1, eps=1e-12)
        new_u[name] = F.normalize(torch.einsum("moi,mi->mo", matrix, v), dim=1, eps=1e-12)
        new_v[name] = v
    return new_u, new_v


def spectral_norms_sq(params: dict[str, torch.Tensor]) -> torch.Tensor:
    """Σ_l σ_max(W_l)² per member, exactly (SVD), of stacked params: shape (M,)."""
    names = spectral_weight_names(params)
    total = torch.zeros(next(iter(params.values())).shape[0], dtype=torch.float64)
    for name in names:
        w = params[name].detach().to(torch.float64).cpu()
        total += torch.linalg.matrix_norm(w.reshape(w.shape[0], w.shape[1], -1), ord=2) ** 2
    return total


class Optimizer:
    """Plain SGD or Adam on stacked member parameters, with torch's ``weight_decay`` convention
    (λθ added to the gradient) and a per-member mask that freezes stopped or diverged members."""

    def __init__(self, kind: str, params: dict[str, torch.Tensor]) -> None:
        self.kind = kind
        adam = kind == "adam"  # plain SGD keeps no state
        self.moments = ({n: torch.zeros_like(p) for n, p in params.items() if adam},
                        {n: torch.zeros_like(p) for n, p in params.items() if adam})
        first = next(iter(params.values()))
        self.count = torch.zeros(first.shape[0], dtype=first.dtype, device=first.device)

    def take(self, index: torch.Tensor) -> Optimizer:
        """The state of the members ``index`` (the ones still training)."""
        part = Optimizer.__new__(Optimizer)
        part.kind = self.kind
        part.moments = tuple({n: m[index] for n, m in d.items()} for d in self.moments)
        part.count = self.count[index]
        return part

    def put(self, index: torch.Tensor, part: Optimizer) -> None:
        """Write the state of ``part`` (members ``index``) back into this one."""
        self.moments = tuple({n: full[n].index_copy(0, index, sub[n]) for n in full}
                             for full, sub in zip(self.moments, part.moments))
        self.count = self.count.index_copy(0, index, part.count)

    def step(self, params: dict[str, torch.Tensor], grads: dict[str, torch.Tensor],
             lr: torch.Tensor, weight_decay: torch.Tensor | None, active: torch.Tensor
             ) -> dict[str, torch.Tensor]:
        """θ_t of every member; ``active`` (M,) bool marks the members that still train, and
        ``weight_decay`` is None when no member decays.

        A frozen member keeps θ and its Adam moments exactly: its step size and moment weights
        are 0, and its gradient (non-finite once it diverged; 0 · NaN is NaN) is zeroed first.
        The caller freezes every member whose gradient is not finite (``finite_members``), so
        zeroing never touches a training member. ``grads`` and the moments are updated in place
        and no ``torch.where`` masks whole parameters: on the CPU a broadcast mask cost more than
        the rest of the update.
        """
        def per_member(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
            return v.view(-1, *[1] * (like.dim() - 1))

        on = active.to(self.count.dtype)
        self.count = self.count + on
        rate = lr * on  # 0 for frozen members
        if self.kind == "adam":
            count = self.count.clamp_min(1)
            step_size = -rate / (1 - ADAM_BETAS[0] ** count)
            root_correction = (1 - ADAM_BETAS[1] ** count).sqrt()
            weights = ((1 - ADAM_BETAS[0]) * on, (1 - ADAM_BETAS[1]) * on)
        new = {}
        for name, p in params.items():
            g = grads[name].nan_to_num_(nan=0.0, posinf=0.0, neginf=0.0)
            if weight_decay is not None:
                g = g.addcmul_(per_member(weight_decay, p), p)
            if self.kind == "adam":
                # m + (1-β1)(g - m) is β1·m + (1-β1)·g; a weight of 0 leaves m exactly as it is
                first = self.moments[0][name].lerp_(g, per_member(weights[0], p))
                second = self.moments[1][name].lerp_(g.square(), per_member(weights[1], p))
                denominator = second.sqrt().div_(per_member(root_correction, p)).add_(ADAM_EPS)
                new[name] = torch.addcdiv(p, first * per_member(step_size, p), denominator)
            else:
                new[name] = torch.addcmul(p, per_member(-rate, p), g)
        return new


def finite_members(grads: dict[str, torch.Tensor]) -> torch.Tensor:
    """(M,) bool: members whose gradient is finite everywhere (a sum per member: one read)."""
    total = sum(g.flatten(1).sum(1) for g in grads.values())
    return torch.isfinite(total)
