"""Trajectory statistics of the first-layer bias b1 (docs/protocols/loukas2021.md §4.1, §4.5-4.7,
§2b P-a, P-e, P-f).

Pure, vectorised functions over a leading member axis M. The training hook
(:class:`trainlens.training.hooks.BiasTrajectoryHook`) calls them once per chunk of steps; the
table-level statistics that claims and figures read are in ``analysis/loukas2021/stats.py``.

Key identity (§4.1, invariant U1): with W1 = I, plain SGD and batch size 1,
b_t − b_{t−1} = −η_t·(∂ℓ/∂f)·∇_x f(x_t; θ_{t−1}) for the output f the loss reads, hence the
normalised bias step τ_t = ‖b_t − b_{t−1}‖ / (η_t·ε_t) with the paper's ε = |∂ℓ/∂f| equals the
Lipschitz constant of f at the visited sample. For regression (MSE/2, f = z) ε = |f − y| and τ is
λ(x_t; θ_{t−1}); for a sigmoid classifier with BCE the paper's ε = 1/|1 − y − σ(z)| makes τ the
Lipschitz constant of the probability, ‖∇ₓσ(z)‖ = σ(1 − σ)·‖∇ₓz‖ (§2b P-a). Normalising by
|∂ℓ/∂z| instead gives the logit's λ (``trajectory_logit``, the suite's earlier primary, now a
labelled variant). For a batch of B, τ_t = ‖Δb_t‖ / (η_t·mean_i ε_i) ≤ max_i λ(x_i) (triangle
inequality; the paper's B > 1 statement is not known).
"""

from __future__ import annotations

import torch


def normalized_bias_step(bias_step_norm: torch.Tensor, lr: torch.Tensor,
                         epsilon: torch.Tensor) -> torch.Tensor:
    """τ_t = ‖Δb_t‖ / (η_t · mean_i ε_i) per member (§4.1).

    ``bias_step_norm`` (..., M), ``lr`` (M,), ``epsilon`` (..., M, B): leading axes are steps;
    ε is the paper's |∂ℓ/∂f| (or |∂ℓ/∂z| for the logit variant). Steps with mean ε = 0 (an
    exactly fitted regression sample: no step, no information) give NaN, which the epoch sums
    skip. An infinite ε (a float32 probability rounded to the wrong class) gives τ = 0, the limit.
    """
    scale = lr * epsilon.abs().mean(dim=-1)
    return torch.where(scale > 0, bias_step_norm / scale, torch.nan)


def official_cnn_epsilon(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """ε = |1 − p − y| of the official CNN code (pitfall P13, variant b), from the probability
    ``p`` of class 1 (M, B): the probability given to the labelled class, the reciprocal of the
    paper's ε (§2b P-a). Mean over the batch (the last axis), shape (..., M)."""
    return (1 - p - y.to(p.dtype)).abs().mean(dim=-1)


def window_variance(counts: list[int], refs: list[torch.Tensor], sums: list[torch.Tensor],
                    square_sums: list[torch.Tensor]) -> torch.Tensor:
    """Corollary 2's variance avg_{t∈T} ‖b_t − avg_{t∈T} b_t‖² over one window T made of epochs
    (§4.6, §2b P-f: no division by η²), from each epoch's step count n_k, reference bias r_k
    (M, d), Σ_t (b_t − r_k) (M, d) and Σ_t ‖b_t − r_k‖² (M,). The epochs' offsets are moved to
    the first epoch's reference r: Σ(b − r) = Σc_k + n_k·δ_k and Σ‖b − r‖² = Σ‖c‖²_k +
    2·δ_k·Σc_k + n_k‖δ_k‖² with δ_k = r_k − r. Offsets from a bias inside the window keep
    Σ‖b‖² − n‖b̄‖² free of cancellation. Returns (M,)."""
    r = refs[0]
    total_n, first, second = 0, torch.zeros_like(r), torch.zeros_like(square_sums[0])
    for n, ref, c_sum, c2_sum in zip(counts, refs, sums, square_sums, strict=True):
        delta = ref - r
        total_n += n
        first = first + c_sum + n * delta
        second = second + c2_sum + 2 * (delta * c_sum).sum(-1) + n * (delta * delta).sum(-1)
    mean = first / total_n
    return (second / total_n - (mean * mean).sum(-1)).clamp_min(0.0)
