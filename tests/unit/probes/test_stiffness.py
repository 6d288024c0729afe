"""fort2019 stiffness probe: invariants U1-U6 of docs/protocols/fort2019.md §6 and the Gram methods
against a loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from trainlens.probes.class_stiffness import (
    balanced_within_between,
    class_stiffness,
    diagonal_dominance,
    group_contrast,
    group_permutation_p,
    input_distances,
    pair_values,
    pooled_within_between,
)
from trainlens.probes.stiffness import gradient_gram, per_example_gradients, stiffness
from trainlens.stats.critical_length import (
    DistanceCurve,
    bin_by_distance,
    critical_length_crossing,
    critical_length_fit,
)
from trainlens.training.losses import LOSSES

CE = LOSSES["cross_entropy"].value


def fc_net(seed: int = 0, widths: tuple[int, ...] = (20, 12), d: int = 8, k: int = 4
           ) -> nn.Module:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for width in widths:
        layers += [nn.Linear(d, width), nn.ReLU()]
        d = width
    return nn.Sequential(*layers, nn.Linear(d, k)).double()


def data(n: int = 30, d: int = 8, k: int = 4, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, d, generator=g, dtype=torch.float64),
            torch.randint(0, k, (n,), generator=g))


def loop_gradients(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The reference: one forward and backward per example."""
    rows = []
    for xi, yi in zip(x, y):
        model.zero_grad()
        CE(model(xi[None]), yi[None]).sum().backward()
        rows.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    return torch.stack(rows)


def test_ghost_gram_and_vmap_gram_equal_the_loop_gram() -> None:
    """U3 and U4: both fast methods equal G Gᵀ from a per-example loop (float64)."""
    model, (x, y) = fc_net(), data()
    g = loop_gradients(model, x, y)
    reference = g @ g.T
    ghost = gradient_gram(model, x, y, CE, method="ghost")
    chunked = gradient_gram(model, x, y, CE, method="vmap", chunk_size=7)
    recomputed = gradient_gram(model, x, y, CE, method="vmap", chunk_size=7, max_cached_bytes=0)
    for gram in (ghost, chunked, recomputed):
        assert torch.allclose(gram, reference, rtol=1e-10, atol=1e-12)
    assert torch.allclose(per_example_gradients(model, x, y, CE), g, atol=1e-12)


def test_ghost_gram_handles_frozen_layers_and_bias_free_layers() -> None:
    model, (x, y) = fc_net(), data()
    model[0].weight.requires_grad_(False)
    model[2].bias = None
    params = [p for p in model.parameters() if p.requires_grad]
    rows = []
    for xi, yi in zip(x, y):
        grads = torch.autograd.grad(CE(model(xi[None]), yi[None]).sum(), params)
        rows.append(torch.cat([q.flatten() for q in grads]))
    g = torch.stack(rows)
    assert torch.allclose(gradient_gram(model, x, y, CE, method="ghost"), g @ g.T, atol=1e-12)


def test_a_layer_applied_twice_falls_back_to_vmap() -> None:
    """Weight sharing breaks the ghost identity; "auto" must notice and still be exact."""

    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layer = nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.layer(torch.tanh(self.layer(x)))

    torch.manual_seed(0)
    model = Twice().double()
    x, y = data(n=10, d=4, k=4)
    g = loop_gradients(model, x, y)
    assert torch.allclose(gradient_gram(model, x, y, CE), g @ g.T, atol=1e-12)
    with pytest.raises(ValueError, match="ghost"):
        gradient_gram(model, x, y, CE, method="ghost")


def test_sign_and_cos_invariants_u1() -> None:
    """U1: sign(G Gᵀ) = sign(Gn Gnᵀ) for row-normalised Gn; S in [-1, 1]; tt symmetric."""
    model, (x, y) = fc_net(), data()
    s = stiffness(model, x, y, CE)
    g = loop_gradients(model, x, y)
    normalised = g / g.norm(dim=1, keepdim=True)
    assert torch.equal(s.sign, torch.sign(normalised @ normalised.T))
    assert torch.allclose(s.cos, normalised @ normalised.T, atol=1e-12)
    assert s.cos.abs().max() <= 1 and s.sign.abs().max() <= 1
    assert torch.equal(s.cos, s.cos.T) and torch.equal(s.sign, s.sign.T)
    classes = class_stiffness(s.cos, y, y, 4, exclude_self=True)
    assert torch.allclose(classes, classes.T, equal_nan=True)


def test_one_example_is_perfectly_stiff_with_itself() -> None:
    model, (x, y) = fc_net(), data(n=1)
    s = stiffness(model, x, y, CE)
    assert s.cos.shape == (1, 1) and s.cos.item() == 1.0 and s.sign.item() == 1.0


def test_train_val_stiffness_is_the_off_diagonal_block() -> None:
    model, (x, y) = fc_net(), data(n=12)
    x2, y2 = data(n=5, seed=7)
    both = stiffness(model, torch.cat([x, x2]), torch.cat([y, y2]), CE)
    tv = stiffness(model, x, y, CE, x2, y2)
    assert tv.cos.shape == (12, 5) and not tv.same_set
    assert torch.allclose(tv.cos, both.cos[:12, 12:], atol=1e-12)
    with pytest.raises(ValueError, match="x2 and y2"):
        stiffness(model, x, y, CE, x2=x2)


def test_first_order_picture_u2() -> None:
    """U2: a step ε = 1e-4 along −g_i changes L_j by −ε g_i·g_j to first order (float64)."""
    model, (x, y) = fc_net(seed=3), data(n=20)
    s = stiffness(model, x, y, CE)
    g = loop_gradients(model, x, y)
    before = CE(model(x), y).detach()
    eps, agree, ratios = 1e-4, [], []
    params = list(model.parameters())
    for i in range(len(x)):
        with torch.no_grad():
            offset = 0
            saved = [p.clone() for p in params]
            for p in params:
                p -= eps * g[i, offset:offset + p.numel()].view_as(p)
                offset += p.numel()
            change = CE(model(x), y) - before
            for p, old in zip(params, saved):
                p.copy_(old)
        predicted = -eps * s.gram[i]
        for j in range(len(x)):
            if j != i and abs(s.cos[i, j]) > 0.05:
                agree.append(bool(torch.sign(change[j]) == torch.sign(predicted[j])))
                ratios.append(float(change[j] / predicted[j]))
    assert np.mean(agree) >= 0.95
    assert 0.9 <= np.median(ratios) <= 1.1


def test_class_stiffness_of_a_hand_made_matrix() -> None:
    """Rows by the first set's labels, columns by the second's; self-pairs dropped in tt."""
    s = torch.tensor([[1.0, 0.5, -0.2], [0.5, 1.0, 0.1], [-0.2, 0.1, 1.0]], dtype=torch.float64)
    labels = torch.tensor([0, 0, 1])
    c = class_stiffness(s, labels, labels, 2, exclude_self=True)
    assert c[0, 0] == 0.5 and torch.isnan(c[1, 1])  # class 1 has one example: no pairs
    assert c[0, 1] == pytest.approx(-0.05) and c[1, 0] == pytest.approx(-0.05)
    tv = class_stiffness(s[:, :2], labels, torch.tensor([1, 1]), 2, exclude_self=False)
    assert torch.isnan(tv[0, 0]) and tv[0, 1] == 0.75 and tv[1, 1] == pytest.approx(-0.05)
    pooled = pooled_within_between(s, labels, labels, exclude_self=True)
    assert pooled.within == 0.5 and pooled.between == pytest.approx(-0.05)


def test_a_missing_class_gives_nan_never_zero_u6() -> None:
    s = torch.full((4, 4), 0.3, dtype=torch.float64)
    labels = torch.tensor([0, 0, 2, 2])  # class 1 absent
    c = class_stiffness(s, labels, labels, 3, exclude_self=True)
    assert torch.isnan(c[1]).all() and torch.isnan(c[:, 1]).all()
    summary = balanced_within_between(c)
    assert summary.within == pytest.approx(0.3) and summary.between == pytest.approx(0.3)


def test_diagonal_dominance_counts_rows() -> None:
    c = torch.tensor([[0.5, 0.1, 0.2], [0.1, 0.05, 0.3], [0.2, 0.3, float("nan")]],
                     dtype=torch.float64)
    assert diagonal_dominance(c) == 1


def test_group_contrast_and_its_permutation_p() -> None:
    groups = np.repeat(np.arange(4), 5)
    same = groups[:, None] == groups[None, :]
    c = torch.from_numpy(np.where(same, 0.3, 0.1))
    assert group_contrast(c, groups) == pytest.approx(0.2)
    assert group_permutation_p(c, groups, 200, seed=0) < 0.01
    flat = torch.full((20, 20), 0.2, dtype=torch.float64)
    assert group_permutation_p(flat, groups, 200, seed=0) == 1.0


def test_distances_are_one_minus_cosine() -> None:
    x = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0]])
    d = input_distances(x, x)
    assert torch.allclose(d, torch.tensor([[0.0, 1, 2], [1, 0, 1], [2, 1, 0]],
                                          dtype=torch.float64))


def _synthetic_pairs(n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    d = rng.uniform(0.2, 1.4, n)
    return d, 0.6 - d + rng.normal(0, 0.05, n)


def test_critical_length_recovers_a_known_root_u5() -> None:
    """U5: S(d) = 0.6 − d gives ξ = 0.6 ± 0.02 by both estimators and both binnings."""
    d, s = _synthetic_pairs()
    for curve in (bin_by_distance(d, s, 20), bin_by_distance(d, s, width=0.05, min_pairs=30)):
        for estimate in (critical_length_fit(curve), critical_length_crossing(curve)):
            assert estimate.status == "found"
            assert estimate.value == pytest.approx(0.6, abs=0.02)


def test_critical_length_censoring() -> None:
    """A line that stays positive is censored above d_max, never extrapolated; a rising one has
    no ξ; a curve already negative is censored below."""
    centre = np.linspace(0.5, 1.0, 10)
    count = np.full(10, 50)

    def curve(mean: np.ndarray) -> DistanceCurve:
        return DistanceCurve(centre, mean, np.zeros(10), count)

    above = curve(2.0 - centre)
    assert critical_length_fit(above).status == "above"
    assert critical_length_crossing(above).status == "above"
    assert np.isnan(critical_length_fit(above).value)
    assert critical_length_fit(curve(centre)).status == "no_decay"
    below = curve(-centre)
    assert critical_length_fit(below).status == "below"
    assert critical_length_crossing(below).status == "below"


def test_pair_values_take_each_within_class_pair_once() -> None:
    s = torch.arange(16, dtype=torch.float64).reshape(4, 4)
    d = torch.zeros(4, 4, dtype=torch.float64)
    labels = torch.tensor([0, 0, 1, 1])
    _, values = pair_values(s, d, labels, labels, same_set=True)
    assert sorted(values.tolist()) == [1.0, 11.0]
    _, every = pair_values(s, d, labels, labels, same_set=True, within_class=False)
    assert len(every) == 6
