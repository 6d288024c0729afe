"""The ensemble equals training each member alone (loukas2021 setup, float64), and its eager and
compiled step functions agree."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch

from trainlens.experiments.train_config import TrainConfig
from trainlens.models.loukas import (
    FIRST_BIAS,
    LoukasCNN,
    LoukasCNNConfig,
    LoukasMLP,
    LoukasMLPConfig,
)
from trainlens.training.ensemble import (
    Hook,
    StepState,
    _autograd_sgd_step,
    _functional_sgd_step,
    stack_members,
    train_ensemble,
)
from trainlens.training.group import build_member, train_config
from trainlens.training.losses import LOSSES
from trainlens.training.reference import train_alone


class BiasRecorder(Hook):
    def __init__(self) -> None:
        self.bias: list[torch.Tensor] = []

    def after_step(self, state: StepState) -> None:
        self.bias.append(state.params[FIRST_BIAS].clone())


def _members(config: dict, indices: list[int]):
    return [build_member(config, config["members"][i], Path("data"), torch.device("cpu"))
            for i in indices]


def test_ensemble_matches_each_member_trained_alone(e1a_smoke_config):
    indices = [0, 4, 8, 11]  # different frequencies and seeds: different data, init and order
    train = TrainConfig(**{**vars(train_config(e1a_smoke_config)), "epochs": 3})
    members = _members(e1a_smoke_config, indices)
    alone = _members(e1a_smoke_config, indices)
    recorder = BiasRecorder()
    result = train_ensemble([copy.deepcopy(m.model) for m in members], [m.split for m in members],
                            train, [m.order_rng for m in members], [recorder],
                            lrs=[m.lr for m in members])
    ensemble_trace = torch.stack(recorder.bias)  # (T, M, d)
    for k, member in enumerate(alone):
        trace = torch.stack(train_alone(member.model, member.split, train, member.order_rng,
                                        member.lr, record=FIRST_BIAS))
        assert trace.dtype == torch.float64
        assert torch.allclose(ensemble_trace[:, k], trace, rtol=0, atol=1e-10)
        for name, value in member.model.named_parameters():
            assert torch.allclose(result.params[name][k], value, rtol=0, atol=1e-10), name
    assert result.steps == 3 * members[0].split.x_train.shape[0]


def test_per_member_learning_rates_are_used(e1a_smoke_config):
    (member,) = _members(e1a_smoke_config, [0])
    train = TrainConfig(**{**vars(train_config(e1a_smoke_config)), "epochs": 1})
    rngs = [np.random.default_rng(0), np.random.default_rng(0)]
    result = train_ensemble([copy.deepcopy(member.model), copy.deepcopy(member.model)],
                            [member.split, member.split], train, rngs, lrs=[1e-2, 0.0])
    initial = dict(member.model.named_parameters())
    assert torch.equal(result.params[FIRST_BIAS][1], initial[FIRST_BIAS].detach())
    assert not torch.equal(result.params[FIRST_BIAS][0], initial[FIRST_BIAS].detach())


def test_divergence_is_recorded_not_raised(e1a_smoke_config):
    (member,) = _members(e1a_smoke_config, [9])
    train = TrainConfig(**{**vars(train_config(e1a_smoke_config)), "epochs": 3})
    rngs = [np.random.default_rng(1), np.random.default_rng(1)]
    result = train_ensemble([copy.deepcopy(member.model), copy.deepcopy(member.model)],
                            [member.split, member.split], train, rngs, lrs=[1e-2, 1e3])
    assert result.diverged_step[0] is None
    assert result.diverged_step[1] is not None and 1 <= result.diverged_step[1] <= result.steps
    assert torch.isfinite(result.params[FIRST_BIAS][0]).all()


def test_first_non_finite_step_is_the_earliest_and_is_kept():
    from trainlens.training.loop import first_non_finite

    t, f = True, False
    # members: never bad; bad at steps 12 and 13; already bad since step 3; bad at step 14
    finite = [torch.tensor(v) for v in ([t, t, t, t], [t, f, f, t], [t, f, t, t], [t, t, f, f])]
    first_bad = first_non_finite(torch.tensor([-1, -1, 3, -1]), finite, at=[11, 12, 13, 14])
    assert first_bad.tolist() == [-1, 12, 3, 14]


def test_partial_last_batch_matches_dataloader_semantics(e1a_smoke_config):
    # N = 30, B = 16: steps of 16 then 14 examples (drop_last=False), as torch's DataLoader and
    # the official code do; the ensemble equals the plain loop on the same batches.
    config = copy.deepcopy(e1a_smoke_config)
    for member in config["members"]:
        member["data"]["n_train"] = 30  # N = 30 whatever the smoke E1a uses
    (member,) = _members(config, [2])
    base = vars(train_config(config))
    train = TrainConfig(**{**base, "epochs": 2, "batch_size": 16})
    assert train.steps_per_epoch(30) == 2
    assert TrainConfig(**{**base, "batch_size": 16, "drop_last": True}).steps_per_epoch(30) == 1
    alone = copy.deepcopy(member.model)
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    result = train_ensemble([copy.deepcopy(member.model)], [member.split], train, [rng_a])
    train_alone(alone, member.split, train, rng_b)
    for name, value in alone.named_parameters():
        assert torch.allclose(result.params[name][0], value, rtol=0, atol=1e-12), name
    assert result.steps == 4


def test_stacked_mlp_forward_equals_vmap_of_each_member():
    torch.manual_seed(0)
    for layers in (1, 3):
        models = [LoukasMLP(LoukasMLPConfig(input_dim=5, width=7, hidden_layers=layers)).double()
                  for _ in range(4)]
        base, params = stack_members(models)
        x = torch.randn(4, 6, 5, dtype=torch.float64)
        expected = torch.stack([m(x[k]) for k, m in enumerate(models)])
        assert torch.allclose(base.forward_stacked(params, x), expected, rtol=0, atol=1e-13)


def test_eager_step_equals_the_functional_step():
    """The autograd step (one backward of the summed member losses) equals vmap(grad), for the
    stacked MLP forward and the vmap fallback (CNN), with either loss."""
    torch.manual_seed(0)
    cases = [
        ([LoukasMLP(LoukasMLPConfig(input_dim=5, width=7)) for _ in range(3)],
         torch.randn(3, 2, 5), torch.randn(3, 2), "mse_half"),
        ([LoukasCNN(LoukasCNNConfig(in_channels=1, image_size=12, conv_channels=(2, 3),
                                    kernel_size=3, pool=2, hidden=4)) for _ in range(3)],
         torch.randn(3, 2, 1, 12, 12), torch.randint(0, 2, (3, 2)), "bce_half"),
    ]
    for models, x, y, loss in cases:
        models = [m.double() for m in models]
        base, params = stack_members(models)
        lr = torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64)
        # with and without per-member weight decay (issue 29: weights only)
        for wd in (None, torch.tensor([0.0, 0.5, 0.05], dtype=torch.float64)):
            eager = _autograd_sgd_step(base, LOSSES[loss], wd)(params, x.double(), y, lr)
            functional = _functional_sgd_step(base, LOSSES[loss], wd)(params, x.double(), y, lr)
            for got, want in zip(eager, functional):
                got, want = (got, want) if isinstance(got, dict) else ({0: got}, {0: want})
                for name in want:
                    assert torch.allclose(got[name], want[name], rtol=1e-12, atol=1e-14), name
