"""U1 (docs/protocols/loukas2021.md §6): the normalised bias step equals the Lipschitz constant at
the visited sample (of the logit for MSE, of the sigmoid output with the paper's ε for BCE,
§2b P-a), and the hook's per-epoch statistics equal direct computations from the per-step trace
(epoch sums, §2b P-e; Corollary 2's one-window variance, §2b P-f)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from trainlens.experiments.loading import load_experiments
from trainlens.experiments.train_config import TrainConfig
from trainlens.models.loukas import FIRST_BIAS
from trainlens.probes import input_gradient_norms
from trainlens.probes.trajectory import normalized_bias_step
from trainlens.training.ensemble import Hook, StepState, train_ensemble
from trainlens.training.group import build_member, repeat_groups, train_config
from trainlens.training.hooks import BiasTrajectoryHook
from trainlens.training.recorder import MetricLog


class VisitRecorder(Hook):
    """Keeps θ_{t−1} and x_t of every step (test only: this is what the identity needs)."""

    def __init__(self) -> None:
        self.steps: list[tuple[dict[str, torch.Tensor], torch.Tensor]] = []

    def after_step(self, state: StepState) -> None:
        self.steps.append(({k: v.clone() for k, v in state.params_before.items()},
                           state.x.clone()))


@pytest.fixture(scope="module")
def one_epoch():
    torch.set_num_threads(1)
    experiments = Path(__file__).parents[3] / "experiments" / "loukas2021.yaml"
    (group,) = [g for g in load_experiments(experiments, "smoke") if g.experiment == "e1a"]
    config = group.config
    members = [build_member(config, m, Path("data"), torch.device("cpu"))
               for m in config["members"]]
    train = TrainConfig(**{**vars(train_config(config)), "epochs": 2})
    n = members[0].split.x_train.shape[0]
    log = MetricLog(n)
    hook = BiasTrajectoryHook(log, FIRST_BIAS, repeat_groups(config), trace=True)
    visits = VisitRecorder()
    train_ensemble([copy.deepcopy(m.model) for m in members], [m.split for m in members], train,
                   [m.order_rng for m in members], [hook, visits], lrs=[m.lr for m in members])
    return config, members, hook, visits, log.frame([m.run_id for m in members]), n


def test_u1_normalised_bias_step_is_lipschitz_at_visited_sample(one_epoch):
    config, members, hook, visits, _, n = one_epoch
    tau = hook.trace_arrays()["tau"]  # (T, M) from bias differences
    model = copy.deepcopy(members[0].model)
    worst = 0.0
    for t, (params_before, x) in enumerate(visits.steps[:n]):  # the first epoch
        for m in range(len(members)):
            model.load_state_dict({k: v[m] for k, v in params_before.items()})
            lam = float(input_gradient_norms(model, x[m])[0])  # independent autograd on x
            if hook.trace_arrays()["abs_dloss_dz"][t, m] > 1e-8:
                worst = max(worst, abs(tau[t, m] - lam) / lam)
    assert worst < 1e-6


def test_epoch_statistics_match_the_trace(one_epoch):
    config, members, hook, _, frame, n = one_epoch
    arrays = hook.trace_arrays()
    bias, tau, abs_dz = arrays["bias"], arrays["tau"], arrays["abs_dloss_dz"]  # b: (T+1, M, d)
    lr = np.array([m.lr for m in members])
    run_ids = [m.run_id for m in members]

    def logged(metric: str) -> np.ndarray:
        rows = frame[frame["metric"] == metric].pivot(index="step", columns="run_id",
                                                      values="value")
        return rows[run_ids].to_numpy()  # (epochs, M)

    epoch1 = slice(1, n + 1)  # b_t after the steps of the first epoch
    np.testing.assert_allclose(logged("trajectory")[0], tau[:n].sum(0), rtol=1e-12)  # P-e: sum
    np.testing.assert_allclose(logged("trajectory")[1], tau[n:2 * n].sum(0), rtol=1e-12)
    np.testing.assert_allclose(logged("trajectory_mean")[0], tau[:n].mean(0), rtol=1e-12)
    assert "trajectory_logit" not in set(frame["metric"])  # MSE: the logit is the output
    steps = np.linalg.norm(np.diff(bias, axis=0), axis=2)  # ‖Δb_t‖
    np.testing.assert_allclose(logged("trajectory_raw")[0], (steps[:n] / lr).sum(0), rtol=1e-12)
    b = bias[epoch1]
    variance = ((b - b.mean(0)) ** 2).sum(2).mean(0) / lr**2
    np.testing.assert_allclose(logged("update_variance_epoch")[0], variance, rtol=1e-8)
    # Corollary 2 (P-f): one window over every step so far (2 epochs < 10), no division by η²
    for epochs in (1, 2):
        seen = bias[1:epochs * n + 1]
        window = ((seen - seen.mean(0)) ** 2).sum(2).mean(0)
        np.testing.assert_allclose(logged("update_variance")[epochs - 1], window, rtol=1e-8)
    distance = np.linalg.norm(b - bias[0], axis=2)
    np.testing.assert_allclose(logged("distance_from_init")[0], distance.mean(0), rtol=1e-12)
    np.testing.assert_allclose(logged("distance_from_init_max")[0], distance.max(0), rtol=1e-12)
    np.testing.assert_allclose(logged("distance_from_first_step")[0],
                               np.linalg.norm(bias[n] - bias[1], axis=1), rtol=1e-12)
    # Variant (a): repeat-averaged b and |e|, step t+1's change over step t's lr·error, / N.
    official = np.zeros(len(members))
    for group in repeat_groups(config):
        b_bar = bias[1:n + 1][:, group].mean(1)  # B̄ after steps 1..n
        e_bar = abs_dz[:n, group].mean(1)
        changes = np.linalg.norm(np.diff(b_bar, axis=0), axis=1)
        official[group] = (changes / (lr[group[0]] * e_bar[:-1])).sum() / n
    np.testing.assert_allclose(logged("trajectory_official")[0], official, rtol=1e-10)


def test_variance_window_keeps_only_its_last_epochs(one_epoch):
    # a window of one epoch at the second epoch: the variance of that epoch's biases alone
    config, members, _, _, _, n = one_epoch
    hooks: list[BiasTrajectoryHook] = []

    def make(log, _):
        hooks.append(BiasTrajectoryHook(log, FIRST_BIAS, repeat_groups(config), trace=True,
                                        variance_epochs=1))
        return hooks

    frame = _two_epochs(config, make)
    b = hooks[0].trace_arrays()["bias"][n + 1:2 * n + 1]
    logged = frame.loc["update_variance", "train"].unstack("run_id")[[m.run_id for m in members]]
    np.testing.assert_allclose(logged.to_numpy()[1], ((b - b.mean(0)) ** 2).sum(2).mean(0),
                               rtol=1e-8)


def test_u1_classifier_tau_is_the_lipschitz_constant_of_the_sigmoid_output(one_epoch):
    # §2b P-a: with unhalved BCE on σ(z), batch 1 and W1 = I, ‖Δb‖/(η·ε) with the paper's
    # ε = 1/|1 − y − σ(z)| equals ‖∇ₓσ(z)‖ at the visited sample, here by autograd through the
    # sigmoid at θ_{t−1}; the logit variant's epoch sum equals Σ ‖∇ₓz‖ (the earlier primary).
    config = copy.deepcopy(one_epoch[0])
    config["train"]["loss"] = "bce"
    for member in config["members"]:
        member["data"] = {**member["data"], "target": "binary"}
    hooks: list[Hook] = []

    def make(log, _):
        hooks.extend([BiasTrajectoryHook(log, FIRST_BIAS, repeat_groups(config), trace=True),
                      VisitRecorder()])
        return hooks

    frame = _two_epochs(config, make)
    members = [build_member(config, m, Path("data"), torch.device("cpu"))
               for m in config["members"]]
    tau = hooks[0].trace_arrays()["tau"]
    model = copy.deepcopy(members[0].model)
    worst, logit_sums = 0.0, np.zeros(len(members))
    n = tau.shape[0] // 2
    for t, (params_before, x) in enumerate(hooks[1].steps[:n]):
        for m in range(len(members)):
            model.load_state_dict({k: v[m] for k, v in params_before.items()})
            inputs = x[m].clone().requires_grad_(True)
            (grad,) = torch.autograd.grad(torch.sigmoid(model(inputs)).sum(), inputs)
            lam_sigmoid = float(grad.norm())
            worst = max(worst, abs(tau[t, m] - lam_sigmoid) / lam_sigmoid)
            logit_sums[m] += float(input_gradient_norms(model, x[m])[0])
    assert worst < 1e-6
    logged = frame.loc["trajectory_logit", "train"].unstack("run_id")
    np.testing.assert_allclose(logged[[m.run_id for m in members]].to_numpy()[0], logit_sums,
                               rtol=1e-6)


def test_minibatch_tau_is_bounded_by_the_largest_visited_lipschitz():
    # τ = ‖Σ ℓ'_i g_i‖/(B·mean|ℓ'_i|)·η/η ≤ max ‖g_i‖ (docs/protocols/loukas2021.md §4.1,
    # triangle inequality)
    generator = torch.Generator().manual_seed(0)
    grads = torch.randn(5, 4, 10, generator=generator, dtype=torch.float64)  # (M, B, d)
    dz = torch.randn(5, 4, generator=generator, dtype=torch.float64)
    lr = torch.full((5,), 0.1, dtype=torch.float64)
    step = lr[:, None] * (dz[..., None] * grads).mean(1)  # −Δb
    tau = normalized_bias_step(step.norm(dim=1), lr, dz)
    assert (tau <= grads.norm(dim=2).max(dim=1).values + 1e-12).all()
    one = normalized_bias_step((lr * dz[:, 0].abs() * grads[:, 0].norm(dim=1)), lr, dz[:, :1])
    torch.testing.assert_close(one, grads[:, 0].norm(dim=1))


def _two_epochs(config, hooks_for):
    """Train the E1a smoke members for two epochs with the hooks ``hooks_for(log)`` returns."""
    members = [build_member(config, m, Path("data"), torch.device("cpu"))
               for m in config["members"]]
    train = TrainConfig(**{**vars(train_config(config)), "epochs": 2})
    log = MetricLog(members[0].split.x_train.shape[0])
    hooks = hooks_for(log, members)
    train_ensemble([copy.deepcopy(m.model) for m in members], [m.split for m in members], train,
                   [m.order_rng for m in members], hooks, lrs=[m.lr for m in members])
    frame = log.frame([m.run_id for m in members])
    return frame.set_index(["metric", "split", "run_id", "step"])["value"].sort_index()


def test_tau_from_the_gradient_equals_tau_from_bias_differences(one_epoch):
    # §4.9: without momentum Δb = −η∇_{b1}ℓ, so the float32 path (from the gradient) must give
    # the float64 difference-based statistics; here both run in float64 on the same steps.
    config = one_epoch[0]

    def hooks(from_gradient: bool):
        return lambda log, _: [BiasTrajectoryHook(log, FIRST_BIAS, repeat_groups(config),
                                                  from_gradient=from_gradient)]

    by_difference, by_gradient = _two_epochs(config, hooks(False)), _two_epochs(config, hooks(True))
    for metric in ("trajectory", "trajectory_raw", "update_variance", "distance_from_init"):
        np.testing.assert_allclose(by_gradient.loc[metric].to_numpy(),
                                   by_difference.loc[metric].to_numpy(), rtol=1e-9)
    assert by_gradient.loc["bias_step_check"].max() < 1e-9  # the check the float32 runs log


class OutputRecorder(Hook):
    """Keeps z_t and y_t of every step (test only)."""

    def __init__(self) -> None:
        self.z: list[torch.Tensor] = []
        self.y: list[torch.Tensor] = []

    def after_step(self, state: StepState) -> None:
        self.z.append(state.z[:, 0].clone())
        self.y.append(state.y[:, 0].clone())


def test_official_epsilon_variant_matches_its_definition(one_epoch):
    # Variant (b) of §4.5: Σ_{t=2..N} ‖b_t − b_{t−1}‖/(η ε_{t−1}) / N, ε = |1 − p − y|, with p the
    # MSE output (E1c reads it so). Recomputed here from the per-step trace.
    config, members, _, _, _, n = one_epoch
    hook, outputs = None, OutputRecorder()

    def hooks(log, _):
        nonlocal hook
        hook = BiasTrajectoryHook(log, FIRST_BIAS, repeat_groups(config), trace=True,
                                  official_epsilon=True)
        return [hook, outputs]

    frame = _two_epochs(config, hooks)
    bias = hook.trace_arrays()["bias"]
    steps = np.linalg.norm(np.diff(bias, axis=0), axis=2)[:n]  # ‖Δb_t‖, t = 1..n
    z, y = torch.stack(outputs.z).numpy()[:n], torch.stack(outputs.y).numpy()[:n]
    lr = np.array([m.lr for m in members])
    expected = (steps[1:] / (lr * np.abs(1 - z[:-1] - y[:-1]))).sum(0) / n
    run_ids = [m.run_id for m in members]
    logged = frame.loc["trajectory_official_cnn", "train"].unstack("run_id")[run_ids]
    np.testing.assert_allclose(logged.to_numpy()[0], expected, rtol=1e-10)


def test_window_statistics_equal_the_epoch_statistics_when_a_window_is_an_epoch(one_epoch):
    config, _, _, _, _, n = one_epoch

    def hooks(log, members):
        from trainlens.training.ensemble import ensemble_forward, stack_members, stack_splits
        from trainlens.training.hooks import LossHook, WindowHook

        base, _ = stack_members([members[0].model])
        forward = ensemble_forward(base)
        _, _, x_test, y_test = stack_splits([m.split for m in members])
        return [LossHook(log), BiasTrajectoryHook(log, FIRST_BIAS, repeat_groups(config)),
                WindowHook(log, FIRST_BIAS, n, lambda p: forward(p, x_test), y_test)]

    frame = _two_epochs(config, hooks)
    pairs = [(("window_trajectory", "train"), ("trajectory_mean", "train")),
             (("window_loss", "train"), ("loss", "train")),
             (("window_loss", "test"), ("loss", "test"))]
    for window, epoch in pairs:
        np.testing.assert_allclose(frame.loc[window].to_numpy(), frame.loc[epoch].to_numpy(),
                                   rtol=1e-9)


def test_statistics_do_not_depend_on_the_chunking_and_the_ema_is_its_recursion(one_epoch,
                                                                               monkeypatch):
    """The hook computes its per-step quantities a chunk of steps at a time: chunks of 3 steps
    (carries across chunk and epoch boundaries, the shorter last batch of each epoch: 30 points
    in batches of 4) give what one chunk per epoch gives, and the logged EMA is
    s_t = w·s_{t−1} + (1 − w)·τ_t with s_1 = τ_1, from the per-step trace."""
    config = copy.deepcopy(one_epoch[0])
    config["train"]["batch_size"] = 4
    for member in config["members"]:
        member["data"]["n_train"] = 30  # 30 points whatever the smoke E1a uses
    trajectory: list[BiasTrajectoryHook] = []

    def hooks(log, members):
        trajectory.append(BiasTrajectoryHook(log, FIRST_BIAS, repeat_groups(config), trace=True,
                                             official_epsilon=True, from_gradient=True))
        return trajectory[-1:]

    whole = _two_epochs(config, hooks)
    monkeypatch.setattr(BiasTrajectoryHook, "CHUNK_STEPS", 3)
    chunked = _two_epochs(config, hooks)
    assert len(whole) == len(chunked) and (whole.index == chunked.index).all()
    np.testing.assert_allclose(chunked.to_numpy(), whole.to_numpy(), rtol=1e-12, atol=1e-15)
    for hook in trajectory:
        tau = np.nan_to_num(hook.trace_arrays()["tau"], nan=0.0)  # (T, M), T = 2 epochs x 8
        assert tau.shape[0] == 16
        ema = [tau[0]]
        for value in tau[1:]:
            ema.append(0.95 * ema[-1] + 0.05 * value)
    run_ids = [m["run_id"] for m in config["members"]]
    logged = whole.loc["lipschitz_visited_ema", "train"].unstack("step").loc[run_ids].to_numpy()
    logged = logged.T  # (T, M), members in config order like the trace
    np.testing.assert_allclose(logged, np.array(ema), rtol=1e-12)
