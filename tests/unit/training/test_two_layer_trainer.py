"""The closed-form nakazato2024 trainer: each member trains as if alone, steps are the protocol's
SGD, minibatches cover each epoch once, and the two-time copies share their run's randomness."""

from __future__ import annotations

import pytest
import torch

from trainlens.experiments.train_config import TrainConfig
from trainlens.models.two_layer import TwoLayerConfig, TwoLayerNet, forward, init_params
from trainlens.probes.response import loss_value
from trainlens.training.two_layer_trainer import (
    MinibatchStream,
    SubEnsemble,
    TwoTimeConfig,
    train_sub_ensemble,
)

F64 = torch.float64


def _data(seed: int, n: int = 12, d: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=gen, dtype=F64)
    return x / x.norm(dim=1, keepdim=True), torch.where(x[:, 0] > 0, 1.0, -1.0).to(F64)


def _sub(specs: list[dict], activation: str = "tanh", n: int = 12, width: int = 6
         ) -> SubEnsemble:
    """Members from dicts with seed, loss, batch_size, lr and temperature."""
    config = TwoLayerConfig(input_dim=4, width=width, activation=activation)
    data = [_data(s["seed"], n) for s in specs]
    params = [init_params(config, torch.Generator().manual_seed(100 + s["seed"])) for s in specs]
    return SubEnsemble(
        activation, [s["loss"] for s in specs], torch.stack([d[0] for d in data]),
        torch.stack([d[1] for d in data]),
        {k: torch.cat([p[k] for p in params]) for k in params[0]},
        torch.tensor([s.get("lr", 0.3) for s in specs], dtype=F64),
        torch.tensor([s.get("temperature", 0.0) for s in specs], dtype=F64),
        [MinibatchStream(n, s["batch_size"], torch.Generator().manual_seed(200 + s["seed"]), F64)
         for s in specs],
        [torch.Generator().manual_seed(300 + s["seed"]) for s in specs])


SPECS = [{"seed": 0, "loss": "logistic", "batch_size": 0},
         {"seed": 1, "loss": "mse", "batch_size": 1, "lr": 0.1},
         {"seed": 2, "loss": "logistic", "batch_size": 5, "temperature": 1e-4}]


def test_every_member_trains_as_if_alone():
    together = train_sub_ensemble(_sub(SPECS), 300, [0, 300])
    for index, spec in enumerate(SPECS):
        alone = train_sub_ensemble(_sub([spec]), 300, [0, 300])
        for name, value in alone.checkpoints[300].items():
            torch.testing.assert_close(together.checkpoints[300][name][index], value[0],
                                       rtol=1e-12, atol=1e-12)
        assert int(together.first_interpolation[index]) == int(alone.first_interpolation[0])


@pytest.mark.parametrize("loss", ["logistic", "mse"])
def test_one_gd_step_is_the_spec_update_computed_by_autograd(loss):
    sub = _sub([{"seed": 3, "loss": loss, "batch_size": 0}])
    result = train_sub_ensemble(sub, 1, [0, 1])
    net = TwoLayerNet(TwoLayerConfig(input_dim=4, width=6, activation="tanh"), sub.params)
    loss_value(net(sub.x[0]), sub.y[0], loss).mean().backward()
    for name in ("a", "W", "b"):
        expected = sub.params[name][0] - 0.3 * getattr(net, name).grad
        torch.testing.assert_close(result.checkpoints[1][name][0], expected)


@pytest.mark.parametrize("batch_size", [1, 4, 5])
def test_minibatches_cover_every_point_once_per_epoch(batch_size):
    n = 12
    stream = MinibatchStream(n, batch_size, torch.Generator().manual_seed(0), F64)
    per_epoch = -(-n // batch_size)
    rows = torch.cat([stream.weights(7), stream.weights(3 * per_epoch - 7)])  # across chunks
    torch.testing.assert_close(rows.sum(1), torch.ones(len(rows), dtype=F64))
    for epoch in rows.view(3, per_epoch, n):
        torch.testing.assert_close((epoch > 0).sum(0), torch.ones(n, dtype=torch.long))
    full = MinibatchStream(n, 0, torch.Generator(), F64).weights(2)
    torch.testing.assert_close(full, torch.full((2, n), 1 / n, dtype=F64))


def test_t_c_is_the_first_step_with_every_training_point_correct():
    sub = _sub([{"seed": 4, "loss": "logistic", "batch_size": 0}])
    steps = list(range(0, 401))
    result = train_sub_ensemble(sub, 400, steps)
    correct = [bool(((forward(result.checkpoints[t], sub.x, "tanh") * sub.y) > 0).all())
               for t in steps]
    assert int(result.first_interpolation[0]) == correct.index(True)


def test_two_time_copies_share_minibatches_and_noise_with_their_run():
    """With a kick far below float64 resolution the copy must stay bitwise equal to its run
    under SGD and Langevin noise: any extra or different draw (pitfall 5) would show up in χ."""
    specs = [{"seed": 5, "loss": "logistic", "batch_size": 1, "temperature": 1e-3}]
    tiny = TwoTimeConfig(waiting_times=(10, 30), tau_max=60, kick=1e-300)
    result = train_sub_ensemble(_sub(specs), 90, [90], tiny)
    chi = [row["value"] for row in result.two_time if row["metric"].startswith("chi")]
    assert chi and max(chi) == 0.0
    kicked = train_sub_ensemble(_sub(specs), 90, [90], TwoTimeConfig((10, 30), 60, kick=1.0))
    probe = [r for r in kicked.two_time if r["metric"] == "chi_probe"]
    assert min(r["value"] for r in probe) > 0
    assert {r["step"] - r["t_w"] for r in probe} >= {1, 60}  # τ from 1 to τ_max


def test_two_time_reference_is_the_plain_run():
    specs = [{"seed": 6, "loss": "mse", "batch_size": 4}]
    plain = train_sub_ensemble(_sub(specs), 50, [50])
    with_copies = train_sub_ensemble(_sub(specs), 50, [50], TwoTimeConfig((5, 10), 40))
    for name, value in plain.checkpoints[50].items():
        torch.testing.assert_close(with_copies.checkpoints[50][name], value, rtol=0, atol=0)


def test_langevin_noise_has_the_spec_variance():
    """One step at a zero-gradient point (a = 0, W = 0 has ∇_a f = φ(b) = 0 for tanh, b = 0)
    moves θ by √(2ηT_L) ξ only."""
    sub = _sub([{"seed": 7, "loss": "mse", "batch_size": 0, "temperature": 0.5, "lr": 0.02}],
               width=2000)  # 12,000 parameters: the sample variance is within ~1.3%
    sub.params = {k: torch.zeros_like(v) for k, v in sub.params.items()}
    sub.y = torch.zeros_like(sub.y)
    result = train_sub_ensemble(sub, 1, [1])
    flat = torch.cat([v.flatten() for v in result.checkpoints[1].values()])
    assert flat.mean().item() == pytest.approx(0.0, abs=0.01)
    assert flat.var().item() == pytest.approx(2 * 0.02 * 0.5, rel=0.05)


def test_divergence_is_recorded():
    specs = [{"seed": 8, "loss": "mse", "batch_size": 0, "lr": 500.0}]
    result = train_sub_ensemble(_sub(specs), 600, [600])
    assert result.diverged_step[0] is not None


def test_train_config_refuses_float32_and_bad_probe_times():
    with pytest.raises(ValueError, match="float64"):
        TrainConfig.of("two_layer", dtype="float32")
    with pytest.raises(ValueError, match="probe_times"):
        TrainConfig.of("two_layer", steps=10, probe_times=(0, 20))
    assert TrainConfig.of("two_layer", steps=1000, probe_times=(0, 10)).schedule() == [0, 10, 1000]
