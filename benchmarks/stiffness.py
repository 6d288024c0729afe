"""Case: the fort2019 stiffness matrix of N = 500 examples through an MNIST-size FC net
(784-500-300-100-10 ReLU, 535,910 parameters; fort2019 acceptance: >= 50x, agreement to 1e-6).

Baseline: a per-example Python loop (one forward and backward at batch 1, the gradient over all
parameters flattened into a row of G), then K = G Gᵀ in float64 and cos = K_ij / √(K_ii K_jj):
the definition of docs/protocols/fort2019.md §4 written directly. trainlens:
``trainlens.probes.stiffness``, which
takes the ghost Gram for this all-Linear model (never forms N × P). Both run the same float32
model on the same inputs and labels, on the runner's device; the cosine matrices must agree to
1e-6 (max abs) and the signs of every pair with abs(cos) > 1e-6 must match. Each timing is the
minimum over repeats after a warm-up.
"""

from __future__ import annotations

import torch
from torch import nn

from benchmarks.timing import CPU, best_of, threads_or_device
from trainlens.models.mlp import MLPConfig, build
from trainlens.probes import stiffness
from trainlens.training.losses import LOSSES

CROSS_ENTROPY = LOSSES["cross_entropy"].value


def _loop_cosine(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    params = [p for p in model.parameters() if p.requires_grad]
    rows = []
    for xi, yi in zip(x, y):
        grads = torch.autograd.grad(CROSS_ENTROPY(model(xi[None]), yi[None]).sum(), params)
        rows.append(torch.cat([g.flatten() for g in grads]))
    g = torch.stack(rows).to(torch.float64)
    gram = g @ g.T
    norms = gram.diagonal().sqrt()
    return gram / (norms[:, None] * norms[None, :])


def run(quick: bool = False, device: torch.device = CPU) -> list[dict]:
    model = build(MLPConfig(input_dim=784, widths=(500, 300, 100), out_dim=10),
                  torch.Generator().manual_seed(0)).eval().to(device)
    generator = torch.Generator().manual_seed(1)
    x = torch.rand(500, 784, generator=generator)
    x = (x / x.norm(dim=1, keepdim=True)).to(device)  # unit-norm, as fort2019 preprocesses
    y = torch.randint(0, 10, (500,), generator=generator).to(device)
    repeats = 1 if quick else 3
    baseline_s, expected = best_of(lambda: _loop_cosine(model, x, y), repeats, device)
    trainlens_s, result = best_of(lambda: stiffness(model, x, y, CROSS_ENTROPY), repeats * 5,
                                  device)
    difference = float((result.cos - expected).abs().max())
    clear = expected.abs() > 1e-6
    sign_agree = bool((result.sign[clear] == torch.sign(expected[clear])).all())
    if difference > 1e-6 or not sign_agree:
        raise AssertionError(f"stiffness differs from the loop: max |Δcos| {difference:.2e}, "
                             f"signs agree {sign_agree}")
    return [{"case": "stiffness N=500, 784-500-300-100-10 FC", "baseline_s": baseline_s,
             "trainlens_s": trainlens_s, "ratio": baseline_s / trainlens_s, "target": 50,
             "note": f"per-example gradient loop + float64 G Gᵀ vs the ghost Gram; max |Δcos| "
                     f"{difference:.1e}, signs agree; {threads_or_device(device)}"}]
