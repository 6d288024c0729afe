"""The atlas study's per-member knobs of the ensemble trainer (issue 29): L2 weight decay on the
weights only and label-noise SGD. Checked against a hand-computed step, against each member
trained alone with ``torch.optim.SGD`` (its own weight decay), and bitwise against the plain run
when every value is 0."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch

from trainlens.data.corruption import label_noise_key
from trainlens.experiments.train_config import TrainConfig
from trainlens.models.loukas import FIRST_BIAS, LoukasMLP, LoukasMLPConfig
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
from trainlens.training.seeds import RunStreams


def _key(seed: int) -> int:
    return label_noise_key(RunStreams(seed).seed_sequence("label_noise"))


def _members(config: dict, indices: list[int]):
    return [build_member(config, config["members"][i], Path("data"), torch.device("cpu"))
            for i in indices]


def test_weight_decay_step_equals_a_hand_computed_sgd_step() -> None:
    torch.manual_seed(0)
    models = [LoukasMLP(LoukasMLPConfig(input_dim=3, width=4, hidden_layers=2)).double()
              for _ in range(2)]
    base, params = stack_members(models)
    x, y = torch.randn(2, 5, 3, dtype=torch.float64), torch.randn(2, 5, dtype=torch.float64)
    lr = torch.tensor([0.1, 0.05], dtype=torch.float64)
    wd = torch.tensor([0.3, 0.0], dtype=torch.float64)
    loss = LOSSES["mse_half"]
    plain = _autograd_sgd_step(base, loss)(params, x, y, lr)[0]
    for step in (_autograd_sgd_step(base, loss, wd), _functional_sgd_step(base, loss, wd)):
        new, grads = step(params, x, y, lr)[:2]
        for m, model in enumerate(models):
            model.zero_grad()
            (0.5 * (model(x[m]) - y[m]) ** 2).mean().backward()
            for name, p in model.named_parameters():
                # the hooks' grads stay the loss gradients, without the decay term
                assert torch.allclose(grads[name][m], p.grad, rtol=0, atol=1e-14), name
                decay = wd[m] * p.detach() if p.dim() >= 2 else 0.0  # weights only
                want = p.detach() - lr[m] * (p.grad + decay)
                assert torch.allclose(new[name][m], want, rtol=0, atol=1e-14), name
        for name, p in params.items():
            if p.dim() == 2:  # biases (M, d): the decay leaves them exactly as the plain step
                assert torch.allclose(new[name], plain[name], rtol=0, atol=1e-15), name
    eager = _autograd_sgd_step(base, loss, wd)(params, x, y, lr)[0]
    assert torch.equal(eager[FIRST_BIAS], plain[FIRST_BIAS])  # b1 step bitwise −η∇ℓ
    assert not torch.equal(eager["body.0.weight"][0], plain["body.0.weight"][0])
    assert torch.equal(eager["body.0.weight"][1], plain["body.0.weight"][1])  # wd 0 member


def test_per_member_weight_decay_and_target_noise_match_each_member_alone(e1a_smoke_config):
    indices, decays, noises = [0, 4, 8], [0.0, 0.05, 0.01], [0.2, 0.0, 0.5]
    train = TrainConfig(**{**vars(train_config(e1a_smoke_config)), "epochs": 2})
    members = _members(e1a_smoke_config, indices)
    keys = [_key(m.seed) for m in members]
    result = train_ensemble([copy.deepcopy(m.model) for m in members], [m.split for m in members],
                            train, [m.order_rng for m in members], lrs=[m.lr for m in members],
                            weight_decays=decays, label_noises=noises, label_noise_keys=keys)
    for k, member in enumerate(_members(e1a_smoke_config, indices)):
        alone = TrainConfig(**{**vars(train), "weight_decay": decays[k],
                               "label_noise": noises[k]})
        train_alone(member.model, member.split, alone, member.order_rng, member.lr,
                    label_noise_key=keys[k])
        for name, value in member.model.named_parameters():
            assert torch.allclose(result.params[name][k], value, rtol=0, atol=1e-10), name
    # the knobs change training: without them member 1 (wd) and member 2 (noise) end elsewhere
    fresh = _members(e1a_smoke_config, indices)  # fresh order streams
    plain = train_ensemble([m.model for m in fresh], [m.split for m in fresh], train,
                           [m.order_rng for m in fresh], lrs=[m.lr for m in fresh])
    for k in (0, 1, 2):  # member 0 has both
        assert not torch.equal(plain.params["body.0.weight"][k], result.params["body.0.weight"][k])


class LabelRecorder(Hook):
    def __init__(self) -> None:
        self.y: list[torch.Tensor] = []

    def after_step(self, state: StepState) -> None:
        self.y.append(state.y.clone())


def _binary(config: dict) -> dict:
    config = copy.deepcopy(config)
    for member in config["members"]:
        member["data"]["target"] = "binary"
    config["train"]["loss"] = "bce"
    return config


def test_label_noise_sgd_for_bce_matches_each_member_alone_and_flips_p_b(e1a_smoke_config):
    config = _binary(e1a_smoke_config)
    indices, noises, batch = [1, 5], [0.3, 0.0], 8
    train = TrainConfig(**{**vars(train_config(config)), "epochs": 2, "batch_size": batch,
                           "drop_last": True})
    members = _members(config, indices)
    keys = [_key(m.seed) for m in members]
    clean = LabelRecorder()
    train_ensemble([copy.deepcopy(m.model) for m in members], [m.split for m in members], train,
                   [np.random.default_rng(9), np.random.default_rng(9)], [clean],
                   lrs=[m.lr for m in members])
    noisy = LabelRecorder()
    result = train_ensemble([copy.deepcopy(m.model) for m in members], [m.split for m in members],
                            train, [np.random.default_rng(9), np.random.default_rng(9)], [noisy],
                            lrs=[m.lr for m in members], label_noises=noises,
                            label_noise_keys=keys)
    for before, after in zip(clean.y, noisy.y):
        assert after.dtype == before.dtype == torch.float64  # float 0/1 labels stay float
        changed = (after != before).sum(dim=1)
        assert int(changed[0]) in (2, 3)  # ⌊0.3·8⌋ or ⌈0.3·8⌉ of the member's batch
        assert int(changed[1]) == 0 and ((after == 0) | (after == 1)).all()
    for k, member in enumerate(_members(config, indices)):
        alone = TrainConfig(**{**vars(train), "label_noise": noises[k]})
        train_alone(member.model, member.split, alone, np.random.default_rng(9), member.lr,
                    label_noise_key=keys[k], n_classes=2)
        for name, value in member.model.named_parameters():
            assert torch.allclose(result.params[name][k], value, rtol=0, atol=1e-10), name


def test_all_zero_settings_are_bitwise_the_plain_run(e1a_smoke_config):
    indices = [0, 6, 11]
    base = {k: v for k, v in vars(train_config(e1a_smoke_config)).items()
            if k not in ("weight_decay", "label_noise")}
    without = TrainConfig(**{**base, "epochs": 2})  # the keys left at their defaults
    zeros = TrainConfig(**{**base, "epochs": 2, "weight_decay": 0.0, "label_noise": 0.0})
    runs = []
    for config, extra in ((without, {}), (zeros, {"weight_decays": [0.0] * 3,
                                                  "label_noises": [0.0] * 3,
                                                  "label_noise_keys": [1, 2, 3]})):
        members = _members(e1a_smoke_config, indices)
        runs.append(train_ensemble([m.model for m in members], [m.split for m in members],
                                   config, [m.order_rng for m in members],
                                   lrs=[m.lr for m in members], **extra))
    for name, value in runs[0].params.items():
        assert torch.equal(value, runs[1].params[name]), name


def test_group_members_carry_their_own_folded_values(e1a_smoke_config):
    config = copy.deepcopy(e1a_smoke_config)
    for i, member in enumerate(config["members"][:3]):
        member["train"] = {**member["train"], "weight_decay": 0.1 * i, "label_noise": 0.2 * i}
        member["varied"] = "base" if i == 0 else "train.weight_decay"
    members = _members(config, [0, 1, 2])
    assert [m.weight_decay for m in members] == [0.0, 0.1, 0.2]
    assert [m.label_noise for m in members] == [0.0, 0.2, 0.4]
    assert members[0].label_noise_key is None and members[1].label_noise_key == _key(
        members[1].seed)
    assert [m.row["train_weight_decay"] for m in members] == [0.0, 0.1, 0.2]
    assert [m.row["varied"] for m in members] == ["base", "train.weight_decay",
                                                  "train.weight_decay"]
    assert "varied" not in _members(e1a_smoke_config, [0])[0].row  # cartesian: no column
    assert "train_weight_decay" not in _members(e1a_smoke_config, [0])[0].row
