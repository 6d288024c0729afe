"""The dherin2022 regularised ensemble: each term against plain autograd / torch.optim, members
independent of each other, matched-loss stopping and divergence handling
(docs/protocols/dherin2022.md §3-4)."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from trainlens.data.corruption import label_noise_key, label_noise_sgd
from trainlens.experiments.train_config import TrainConfig
from trainlens.models.resnet import ResNet18Config
from trainlens.models.resnet import build as build_resnet
from trainlens.probes import geometric_complexity
from trainlens.training.regularized import (
    Optimizer,
    finite_members,
    power_iteration,
    spectral_norms_sq,
)
from trainlens.training.regularized_group import stack_state
from trainlens.training.regularized_loop import MemberStreams, train_regularized
from trainlens.training.seeds import RunStreams

D, K, N = 5, 3, 12


def _model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(D, 8), nn.Tanh(), nn.Linear(8, K)).double()


def _data(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(N, D, generator=g, dtype=torch.float64)
    return x, torch.randint(0, K, (N,), generator=g), x[:4] + 0.1, torch.arange(4) % K


def _streams(seed: int) -> MemberStreams:
    gens = [torch.Generator().manual_seed(seed * 10 + i) for i in range(3)]
    return MemberStreams(np.random.default_rng(seed), *gens)


def _train(models, configs, seeds, data=None):
    """Train ``models`` as one group; returns the result (params stacked on a member axis)."""
    x, y, x_test, y_test = data or _data()
    base, params, buffers = stack_state(models)
    stacked = [torch.stack([t] * len(models)) for t in (x, y, x_test, y_test)]
    return train_regularized(base, params, buffers, *stacked, configs,
                             [_streams(s) for s in seeds])


def _config(**kw) -> TrainConfig:
    return TrainConfig.of("regularized", **{"lr": 0.1, "steps": 5, "batch_size": 0,
                                            "log_every": 2, "dtype": "float64", **kw})


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_weight_decay_and_optimizer_equal_torch_optim(optimizer):
    x, y, _, _ = _data()
    configs = [_config(optimizer=optimizer, weight_decay=wd, lr=lr)
               for wd, lr in ((0.0, 0.1), (0.05, 0.03))]
    result = _train([_model(0), _model(1)], configs, [0, 1])
    for index, (config, seed) in enumerate(zip(configs, (0, 1))):
        model = _model(seed)
        kind = torch.optim.SGD if optimizer == "sgd" else torch.optim.Adam
        opt = kind(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        for _ in range(config.steps):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        for name, p in model.named_parameters():
            assert torch.allclose(result.params[name][index], p.detach(), rtol=1e-10, atol=1e-12)


def test_flatness_penalty_is_double_backprop_of_the_gradient_norm():
    x, y, _, _ = _data()
    mu = 0.3
    result = _train([_model(2)], [_config(flatness_penalty=mu, steps=1)], [2])
    model = _model(2)
    loss = nn.functional.cross_entropy(model(x), y)
    grads = torch.autograd.grad(loss, list(model.parameters()), create_graph=True)
    total = loss + mu * sum(g.pow(2).sum() for g in grads)
    total_grads = torch.autograd.grad(total, list(model.parameters()))
    for (name, p), g in zip(model.named_parameters(), total_grads):
        assert torch.allclose(result.params[name][0], p.detach() - 0.1 * g, rtol=1e-10)


def test_power_iteration_converges_to_the_largest_singular_value():
    g = torch.Generator().manual_seed(3)
    w = torch.randn(2, 6, 4, generator=g, dtype=torch.float64)
    u = {"w": torch.randn(2, 6, generator=g, dtype=torch.float64)}
    for _ in range(200):
        u, v = power_iteration({"w": w}, u)
    sigma = torch.einsum("mo,moi,mi->m", u["w"], w, v["w"])
    assert torch.allclose(sigma, torch.linalg.matrix_norm(w, ord=2), rtol=1e-10)
    assert torch.allclose(spectral_norms_sq({"w": w, "b": w[:, 0]}), sigma**2, rtol=1e-10)


def test_spectral_penalty_gradient_is_two_sigma_u_v_transpose():
    # d(uᵀWv)²/dW = 2σ u vᵀ with (u, v) from this step's power iteration
    x, y, _, _ = _data()
    lam = 0.7
    result = _train([_model(4)], [_config(spectral_penalty=lam, steps=1)], [4])
    model = _model(4)
    loss = nn.functional.cross_entropy(model(x), y)
    grads = dict(zip([n for n, _ in model.named_parameters()],
                     torch.autograd.grad(loss, list(model.parameters()))))
    # the loop draws u for every weight from one generator, in parameter order
    spectral = _streams(4).spectral
    u0 = {n: torch.randn(p.shape[0], generator=spectral, dtype=torch.float64)[None]
          for n, p in model.named_parameters() if p.dim() == 2}
    u, v = power_iteration({n: p.detach()[None] for n, p in model.named_parameters()
                            if p.dim() == 2}, u0)
    for name, p in model.named_parameters():
        g = grads[name]
        if p.dim() == 2:
            sigma = u[name][0] @ p.detach() @ v[name][0]
            g = g + lam * 2 * sigma * torch.outer(u[name][0], v[name][0])
        assert torch.allclose(result.params[name][0], p.detach() - 0.1 * g, rtol=1e-10)


def test_members_train_as_if_alone():
    # every term on, each member with its own strengths and streams: the ensemble must not mix
    configs = [_config(batch_size=5, steps=7, spectral_penalty=s, flatness_penalty=f,
                       gc_penalty=c, input_noise=n)
               for s, f, c, n in ((0.1, 0.0, 0.2, 0.0), (0.0, 0.05, 0.0, 0.3),
                                  (0.2, 0.1, 0.1, 0.1))]
    together = _train([_model(i) for i in range(3)], configs, [0, 1, 2])
    for index in range(3):
        alone = _train([_model(index)], [configs[index]], [index])
        for name, p in alone.params.items():
            assert torch.allclose(together.params[name][index], p[0], rtol=1e-10, atol=1e-12)


def test_target_loss_stops_a_member_at_its_first_check_below_target():
    x, y, _, _ = _data()
    target = 0.5
    config = _config(steps=60, lr=0.5, target_loss=target, check_every=3)
    stopped = _train([_model(5), _model(6)], [config, replace(config, lr=1e-6)], [5, 6])
    assert stopped.stop_step[1] is None  # a negligible lr never gets there
    step = stopped.stop_step[0]
    assert step is not None and step % 3 == 0
    final = {n: p[0] for n, p in stopped.params.items()}
    model = _model(5)
    model.load_state_dict(final)
    loss = nn.functional.cross_entropy(model(x), y)
    assert loss < target  # frozen where it first checked below the target ...
    assert step > 3
    previous = _train([_model(5)], [_config(steps=step - 3, lr=0.5)], [5])
    model.load_state_dict({n: p[0] for n, p in previous.params.items()})
    assert nn.functional.cross_entropy(model(x), y) >= target  # ... and not at the check before


def test_a_diverged_member_is_frozen_and_the_others_train_on():
    configs = [_config(steps=150, lr=0.1, loss="mse_onehot_half"),
               _config(steps=150, lr=1e4, loss="mse_onehot_half")]
    data = _data()
    x = data[0] * 100
    result = _train([_model(7), _model(8)], configs, [7, 8], (x, *data[1:]))
    alone = _train([_model(7)], configs[:1], [7], (x, *data[1:]))
    assert result.diverged_step[0] is None and result.diverged_step[1] is not None
    for name, p in alone.params.items():
        assert torch.allclose(result.params[name][0], p[0], rtol=1e-10)


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_a_frozen_member_with_a_nan_gradient_keeps_theta_and_moments_exactly(kind):
    params = {"w": torch.randn(2, 3, 4, dtype=torch.float64),
              "b": torch.randn(2, 3, dtype=torch.float64)}
    grads = {n: torch.randn_like(p) for n, p in params.items()}
    optimizer = Optimizer(kind, params)
    lr, decay = torch.tensor([0.1, 0.1], dtype=torch.float64), torch.tensor([0.0, 0.01])
    both = torch.ones(2, dtype=torch.bool)
    params = optimizer.step(params, {n: g.clone() for n, g in grads.items()}, lr, decay, both)
    before = copy.deepcopy((params, optimizer.moments))
    grads["w"][1, 0, 0] = float("nan")
    grads["b"][1, 1] = float("inf")
    finite = finite_members(grads)
    assert finite.tolist() == [True, False]
    after = optimizer.step(params, {n: g.clone() for n, g in grads.items()}, lr, decay, finite)
    for name in params:
        assert torch.equal(after[name][1], before[0][name][1])  # frozen: bit for bit
        for moment, old in zip(optimizer.moments, before[1]):
            if kind == "adam":
                assert torch.equal(moment[name][1], old[name][1])
        assert not torch.equal(after[name][0], before[0][name][0])  # the other one trains
        assert torch.isfinite(after[name]).all()


def test_logged_gc_is_the_probe_on_the_trained_model():
    x, y, _, _ = _data()
    result = _train([_model(9)], [_config(steps=4, log_every=4)], [9])
    table = result.log.frame(["r"])
    logged = table[(table["metric"] == "geometric_complexity") & (table["split"] == "train")
                   & (table["step"] == 4)]["value"].item()
    model = _model(9)
    model.load_state_dict({n: p[0] for n, p in result.params.items()})
    assert logged == pytest.approx(float(geometric_complexity(model, x)), rel=1e-10)


def test_without_complexity_logging_the_log_holds_losses_and_accuracies_only():
    full = _train([_model(9)], [_config(steps=4, log_every=2)], [9])
    lean = _train([_model(9)], [_config(steps=4, log_every=2, log_complexity=False)], [9])
    full_table, lean_table = full.log.frame(["r"]), lean.log.frame(["r"])
    assert set(lean_table["metric"]) == {"loss", "accuracy"}
    assert {"geometric_complexity", "loss_slope"} <= set(full_table["metric"])
    kept = full_table[full_table["metric"].isin(["loss", "accuracy"])].reset_index(drop=True)
    assert kept.equals(lean_table.reset_index(drop=True))  # and the training is the same
    for name, p in full.params.items():
        assert torch.equal(p, lean.params[name])


def test_batchnorm_members_update_running_statistics_as_if_alone():
    config = ResNet18Config(width=2, norm="batch")
    models = [build_resnet(config, torch.Generator().manual_seed(s)).double() for s in (0, 1)]
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 3, 8, 8, generator=g, dtype=torch.float64)
    data = (x, torch.arange(6) % 10, x[:2], torch.arange(2))
    # every penalty on: their extra passes must not touch the running statistics
    configs = [_config(steps=3, log_every=3, lr=0.01, weight_decay=w, flatness_penalty=0.01,
                       gc_penalty=0.01, spectral_penalty=0.01) for w in (0.0, 0.01)]
    together = _train([copy.deepcopy(m) for m in models], configs, [0, 1], data)
    alone = _train([copy.deepcopy(models[1])], configs[1:], [1], data)
    assert together.buffers  # running statistics were stacked and trained
    for name, b in alone.buffers.items():
        assert torch.allclose(together.buffers[name][1], b[0], rtol=1e-10)
    for name, p in alone.params.items():
        assert torch.allclose(together.params[name][1], p[0], rtol=1e-10, atol=1e-12)
    assert not torch.equal(together.buffers["stem.1.running_mean"][0],
                           torch.zeros_like(together.buffers["stem.1.running_mean"][0]))


def test_zero_padded_members_train_exactly_as_alone():
    from trainlens.models.mlp import MLPConfig, zero_pad
    from trainlens.models.mlp import build as build_mlp

    narrow_config = MLPConfig(input_dim=D, widths=(3, 4), out_dim=K, activation="relu")
    wide_config = MLPConfig(input_dim=D, widths=(6, 5), out_dim=K, activation="relu")
    narrow = build_mlp(narrow_config, torch.Generator().manual_seed(0)).double()
    wide = build_mlp(wide_config, torch.Generator().manual_seed(1)).double()
    padded = zero_pad(copy.deepcopy(narrow), narrow_config, (6, 5))
    x = _data()[0]
    assert torch.allclose(padded(x), narrow(x), rtol=1e-14)
    assert torch.allclose(geometric_complexity(padded, x), geometric_complexity(narrow, x))
    config = _config(optimizer="adam", weight_decay=0.01, steps=6, batch_size=4,
                     gc_penalty=0.1, spectral_penalty=0.0)
    together = _train([padded, wide], [config, config], [0, 1])
    alone = _train([narrow], [config], [0])
    for name, p in alone.params.items():
        block = together.params[name][0][tuple(slice(0, n) for n in p.shape[1:])]
        assert torch.allclose(block, p[0], rtol=1e-10, atol=1e-12)
        outside = together.params[name][0].clone()
        outside[tuple(slice(0, n) for n in p.shape[1:])] = 0
        assert not outside.any()  # padded units stayed exactly 0


def test_sigmoid_mlps_are_not_zero_padded():
    from trainlens.models.mlp import MLPConfig, zero_pad
    from trainlens.models.mlp import build as build_mlp

    config = MLPConfig(input_dim=D, widths=(3,), out_dim=K, activation="sigmoid")
    with pytest.raises(ValueError, match="φ\\(0\\) = 0"):
        zero_pad(build_mlp(config, torch.Generator()), config, (5,))


def test_sub_ensembles_split_by_shape_and_batch_size():
    from trainlens.training.regularized_group import sub_ensembles

    def member(widths, batch, seed):
        return {"run_id": f"r{widths}{batch}{seed}", "seed": seed,
                "data": {"name": "digits"},
                "model": {"name": "mlp", "input_dim": 64, "widths": widths},
                "train": {"batch_size": batch}}

    widths = [[2], [64], [128], [256], [512], [2, 2]]
    config = {"group_id": "g", "members": [member(w, 32, 0) for w in widths]
              + [member([2], 5, 0)]}
    parts = sub_ensembles(config)
    assert sorted(map(sorted, parts)) == [[0, 1], [2, 3], [4], [5], [6]]


def test_members_still_training_after_others_stop_train_as_if_alone():
    # stopped members leave the vmapped state; Adam moments of the others must follow them
    config = _config(optimizer="adam", steps=40, batch_size=5, target_loss=0.3, check_every=2,
                     spectral_penalty=0.05, input_noise=0.1)
    slow = replace(config, lr=1e-4)
    together = _train([_model(0), _model(1), _model(2)], [config, slow, config], [0, 1, 2])
    assert together.stop_step[0] is not None and together.stop_step[1] is None
    alone = _train([_model(1)], [slow], [1])
    for name, p in alone.params.items():
        assert torch.allclose(together.params[name][1], p[0], rtol=1e-10, atol=1e-12)


def test_batchnorm_statistics_move_once_per_step_whatever_the_penalties():
    config = ResNet18Config(width=2, norm="batch")
    model = build_resnet(config, torch.Generator().manual_seed(0)).double()
    x = torch.randn(6, 3, 8, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    data = (x, torch.arange(6) % 10, x[:2], torch.arange(2))
    penalised = _train([copy.deepcopy(model)], [_config(steps=2, flatness_penalty=0.5,
                                                         gc_penalty=0.5)], [0], data)
    assert penalised.buffers["stem.1.num_batches_tracked"][0] == 2
    # the first step sees the same parameters with or without penalties: same statistics
    one = _train([copy.deepcopy(model)], [_config(steps=1, flatness_penalty=0.5)], [0], data)
    plain = _train([copy.deepcopy(model)], [_config(steps=1)], [0], data)
    for name in ("stem.1.running_mean", "stem.1.running_var"):
        assert torch.allclose(one.buffers[name], plain.buffers[name], rtol=1e-12)


def test_mlp_batched_step_equals_the_vmapped_step(monkeypatch):
    # the MLP trains through forward_stacked (batched products, features first); a copy
    # without it takes vmap(functional_call): every non-nested term on, per-member strengths
    from trainlens.models.mlp import MLP, MLPConfig
    from trainlens.models.mlp import build as build_mlp

    config = MLPConfig(input_dim=D, widths=(6, 5), out_dim=K, activation="tanh")
    models = [build_mlp(config, torch.Generator().manual_seed(s)).double() for s in range(3)]
    configs = [_config(optimizer=o, batch_size=5, steps=7, spectral_penalty=s, input_noise=n,
                       weight_decay=w)
               for o, s, n, w in (("adam", 0.1, 0.0, 0.01), ("adam", 0.0, 0.3, 0.0),
                                  ("adam", 0.2, 0.1, 0.001))]
    calls = []
    stacked_forward = MLP.forward_stacked
    monkeypatch.setattr(MLP, "forward_stacked",
                        lambda self, p, x: calls.append(1) or stacked_forward(self, p, x))
    batched = _train([copy.deepcopy(m) for m in models], configs, [0, 1, 2])
    assert calls  # the batched path did run
    plain = [copy.deepcopy(m) for m in models]
    for model in plain:
        model.forward_stacked = None  # no batched forward: the vmap fallback
    calls.clear()
    vmapped = _train(plain, configs, [0, 1, 2])
    assert not calls
    for name, p in vmapped.params.items():
        assert torch.allclose(batched.params[name], p, rtol=1e-10, atol=1e-12), name
    for (_, a), (_, b) in zip(batched.log.frame(["a", "b", "c"], [None] * 3).iterrows(),
                              vmapped.log.frame(["a", "b", "c"], [None] * 3).iterrows()):
        assert a["metric"] == b["metric"] and abs(a["value"] - b["value"]) <= 1e-10 * (
            1 + abs(b["value"])), (a["metric"], a["value"], b["value"])


def test_label_noise_sgd_relabels_a_fresh_share_of_every_minibatch_each_step(monkeypatch):
    # docs/protocols/dherin2022.md §2b D-b: record the labels each step trains on and count, by
    # hand, how many differ from the clean minibatch labels
    import trainlens.training.steps.regularized as loop

    seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    def recording(y, *args):
        noisy = label_noise_sgd(y, *args)
        seen.append((y.clone(), noisy.clone()))
        return noisy

    monkeypatch.setattr(loop, "label_noise_sgd", recording)

    def run(seed: int) -> list[torch.Tensor]:
        seen.clear()
        config = _config(batch_size=4, steps=30, label_noise=0.5)
        base, params, buffers = stack_state([_model(seed)])
        x, y, x_test, y_test = (t[None] for t in _data())
        streams = [replace(_streams(seed), label_noise=label_noise_key(
            RunStreams(seed).seed_sequence("label_noise")))]
        train_regularized(base, params, buffers, x, y, x_test, y_test, [config], streams)
        return [noisy[0] != clean[0] for clean, noisy in seen]

    changed = run(3)
    assert len(changed) == 30  # one draw per step
    assert all(int(c.sum()) == 2 for c in changed)  # p·B = 0.5·4 = 2 labels changed every step
    assert len({tuple(c.tolist()) for c in changed}) > 1  # the positions differ between steps
    assert all(torch.equal(a, b) for a, b in zip(changed, run(3)))  # the same seed reproduces
    assert not all(torch.equal(a, b) for a, b in zip(changed, run(4)))  # another seed does not


def test_label_noise_sgd_step_is_a_gradient_step_on_the_relabelled_batch():
    # one full-batch SGD step with p = 0.5: θ1 = θ0 − lr ∇ CE(f(x), ỹ), ỹ the step-1 labels
    seed, lr = 2, 0.1
    config = _config(steps=1, lr=lr, label_noise=0.5)
    key = label_noise_key(RunStreams(seed).seed_sequence("label_noise"))
    base, params, buffers = stack_state([_model(seed)])
    x, y, x_test, y_test = _data()
    result = train_regularized(base, params, buffers, x[None], y[None], x_test[None],
                               y_test[None], [config],
                               [replace(_streams(seed), label_noise=key)])
    noisy = label_noise_sgd(y[None], [0.5], [key], 1, K)[0]
    assert int((noisy != y).sum()) == N // 2
    model = _model(seed)
    nn.functional.cross_entropy(model(x), noisy).backward()
    for name, p in model.named_parameters():
        assert torch.allclose(result.params[name][0], p.detach() - lr * p.grad, rtol=1e-10)
