"""Case: exact geometric complexity of a 784-256-256-10 ReLU MLP on a batch of 256 (dherin2022
acceptance: >= 15x).

Baseline: a per-example Python loop, one full input Jacobian per example with
``torch.autograd.functional.jacobian`` (how the community notebook computes it, squared here).
trainlens: ``trainlens.probes.geometric_complexity``, one backward pass per logit (10 in a
``vmap``). Both in float32 on the same model and inputs, on the runner's device; the values
must agree to 1e-5 relative. Each timing is the minimum over repeats after a warm-up.
"""

from __future__ import annotations

import torch
from torch import nn

from benchmarks.timing import CPU, best_of, threads_or_device
from trainlens.models.mlp import MLPConfig, build
from trainlens.probes import geometric_complexity


def _loop_gc(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    total = torch.zeros((), dtype=x.dtype, device=x.device)
    for xi in x:
        jac = torch.autograd.functional.jacobian(lambda v: model(v[None])[0], xi)
        total = total + jac.pow(2).sum()
    return total / len(x)


def run(quick: bool = False, device: torch.device = CPU) -> list[dict]:
    model = build(MLPConfig(input_dim=784, widths=(256, 256), out_dim=10, init="lecun_normal"),
                  torch.Generator().manual_seed(0)).to(device)
    x = torch.rand(256, 784, generator=torch.Generator().manual_seed(1)).to(device)
    repeats = 2 if quick else 5
    baseline_s, expected = best_of(lambda: _loop_gc(model, x), repeats, device)
    trainlens_s, value = best_of(lambda: geometric_complexity(model, x), repeats * 4, device)
    relative = float(abs(value - expected) / expected)
    if relative > 1e-5:
        raise AssertionError(f"exact GC {float(value)} differs from the loop's {float(expected)}")
    return [{"case": "exact GC, 784-256-256-10 MLP, batch 256", "baseline_s": baseline_s,
             "trainlens_s": trainlens_s, "ratio": baseline_s / trainlens_s, "target": 15,
             "note": f"per-example jacobian loop vs 10 backward passes; GC {float(value):.4g}, "
                     f"relative difference {relative:.1e}; {threads_or_device(device)}"}]
