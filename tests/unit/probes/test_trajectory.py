"""U1 (spec §6): the normalised bias step equals the Lipschitz constant at the visited sample,
and the hook's per-epoch statistics equal direct computations from the per-step trace."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from trainlens.config import load_experiments
from trainlens.models.loukas import FIRST_BIAS
from trainlens.probes import input_gradient_norms
from trainlens.probes.trajectory import normalized_bias_step
from trainlens.training.ensemble import Hook, StepState, TrainConfig, train_ensemble
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
    np.testing.assert_allclose(logged("trajectory")[0], tau[:n].mean(0), rtol=1e-12)
    steps = np.linalg.norm(np.diff(bias, axis=0), axis=2)  # ‖Δb_t‖
    np.testing.assert_allclose(logged("trajectory_raw")[0], (steps[:n] / lr).mean(0), rtol=1e-12)
    b = bias[epoch1]
    variance = ((b - b.mean(0)) ** 2).sum(2).mean(0) / lr**2
    np.testing.assert_allclose(logged("update_variance")[0], variance, rtol=1e-8)
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


def test_minibatch_tau_is_bounded_by_the_largest_visited_lipschitz():
    # τ = ‖Σ ℓ'_i g_i‖/(B·mean|ℓ'_i|)·η/η ≤ max ‖g_i‖ (spec §4.1, triangle inequality)
    generator = torch.Generator().manual_seed(0)
    grads = torch.randn(5, 4, 10, generator=generator, dtype=torch.float64)  # (M, B, d)
    dz = torch.randn(5, 4, generator=generator, dtype=torch.float64)
    lr = torch.full((5,), 0.1, dtype=torch.float64)
    step = lr[:, None] * (dz[..., None] * grads).mean(1)  # −Δb
    tau = normalized_bias_step(step.norm(dim=1), lr, dz)
    assert (tau <= grads.norm(dim=2).max(dim=1).values + 1e-12).all()
    one = normalized_bias_step((lr * dz[:, 0].abs() * grads[:, 0].norm(dim=1)), lr, dz[:, :1])
    torch.testing.assert_close(one, grads[:, 0].norm(dim=1))
