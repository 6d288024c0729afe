"""Named RNG streams, the log-spaced checkpoint schedule, and the losses' z-derivatives."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from trainlens.training.losses import LOSSES
from trainlens.training.schedule import log_spaced_steps
from trainlens.training.seeds import STREAM_NAMES, RunStreams

torch.set_num_threads(1)


def test_same_seed_and_name_same_draws() -> None:
    a, b = RunStreams(42), RunStreams(42)
    assert np.array_equal(a.numpy("init").standard_normal(5), b.numpy("init").standard_normal(5))
    assert torch.equal(torch.randn(5, generator=a.torch("order")),
                       torch.randn(5, generator=b.torch("order")))
    # a fresh generator each call: the second call repeats the first
    assert np.array_equal(a.numpy("data").random(3), a.numpy("data").random(3))


def test_different_names_and_seeds_give_different_draws() -> None:
    streams = RunStreams(0)
    numpy_draws = {name: tuple(streams.numpy(name).random(4)) for name in STREAM_NAMES}
    torch_draws = {name: tuple(torch.rand(4, generator=streams.torch(name)).tolist())
                   for name in STREAM_NAMES}
    assert len(set(numpy_draws.values())) == len(STREAM_NAMES)
    assert len(set(torch_draws.values())) == len(STREAM_NAMES)
    other_seed = RunStreams(1).numpy("init").random(4)
    assert not np.array_equal(other_seed, streams.numpy("init").random(4))


def test_unknown_stream_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="shuffle"):
        RunStreams(0).numpy("shuffle")
    with pytest.raises(KeyError):
        RunStreams(0).torch("Init")


@pytest.mark.parametrize("seed", [0, 7, 2**40 + 3])
@pytest.mark.parametrize("name", ["init", "data", "noise"])
def test_stream_depends_only_on_seed_and_name(seed: int, name: str) -> None:
    """Not on the position of ``name`` in STREAM_NAMES, so adding a stream changes nothing."""
    reference = np.random.default_rng(
        np.random.SeedSequence(seed, spawn_key=(zlib.crc32(name.encode()),)))
    assert np.array_equal(RunStreams(seed).numpy(name).integers(0, 2**62, size=8),
                          reference.integers(0, 2**62, size=8))


def test_log_spaced_steps_basic_properties() -> None:
    for total, count in ((1, 5), (10, 5), (100, 20), (15_000, 20), (300_000, 30), (7, 100)):
        steps = log_spaced_steps(total, count)
        assert steps[0] == 0 and steps[-1] == total
        assert steps == sorted(set(steps))
        assert all(isinstance(s, int) and 0 <= s <= total for s in steps)
        assert len(steps) <= min(count, total) + 2
    assert log_spaced_steps(0, 10) == [0]


def test_log_spaced_steps_count_and_spacing() -> None:
    steps = log_spaced_steps(300_000, 30)
    inner = np.array(steps[1:-1], dtype=float)
    assert 25 <= len(inner) <= 30  # rounding merges a few of the first steps
    assert inner[0] == 1
    late = inner[len(inner) // 2:]  # away from rounding: ratios ~ 300000 ** (1/29)
    np.testing.assert_allclose(late[1:] / late[:-1], 300_000 ** (1 / 29), rtol=0.02)
    # half of the points fall below the geometric middle sqrt(total)
    assert abs(np.sum(inner < np.sqrt(300_000)) - len(inner) / 2) <= 2


def test_log_spaced_steps_rejects_negative() -> None:
    with pytest.raises(ValueError):
        log_spaced_steps(-1, 5)
    with pytest.raises(ValueError):
        log_spaced_steps(10, -1)


def autograd_dz(name: str, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    z = z.clone().requires_grad_(True)
    LOSSES[name].value(z, y).sum().backward()
    return z.grad


def test_mse_half_value_and_dz() -> None:
    z = torch.tensor([0.3, -1.2, 2.0, 0.0], dtype=torch.float64)
    y = torch.tensor([0.5, 0.5, -1.0, 0.0], dtype=torch.float64)
    loss = LOSSES["mse_half"]
    torch.testing.assert_close(loss.value(z, y),
                               torch.tensor([0.02, 1.445, 4.5, 0.0], dtype=torch.float64))
    torch.testing.assert_close(loss.dz(z, y), autograd_dz("mse_half", z, y))


def test_bce_half_value_and_dz() -> None:
    z = torch.tensor([-3.0, -0.4, 0.0, 0.7, 5.0], dtype=torch.float64)
    y = torch.tensor([0, 1, 1, 0, 1])
    loss = LOSSES["bce_half"]
    expected = 0.5 * F.binary_cross_entropy(torch.sigmoid(z), y.double(), reduction="none")
    torch.testing.assert_close(loss.value(z, y), expected)
    torch.testing.assert_close(loss.dz(z, y), autograd_dz("bce_half", z, y))
    # docs/protocols/loukas2021.md §4: dl/dz = (sigmoid(z) - y) / 2
    torch.testing.assert_close(loss.dz(z, y), (torch.sigmoid(z) - y) / 2)


def test_bce_is_unhalved_and_its_output_epsilon_is_the_papers() -> None:
    # loukas2021 §2b P-a/P-b: ℓ = −y log f − (1 − y) log(1 − f), f = σ(z), not halved; the
    # paper's ε = 1/|1 − y − f| equals |∂ℓ/∂f|, here by autograd on f (an independent route)
    z = torch.tensor([-3.0, -0.4, 0.0, 0.7, 5.0], dtype=torch.float64)
    y = torch.tensor([0, 1, 1, 0, 1])
    loss = LOSSES["bce"]
    f = torch.sigmoid(z).requires_grad_(True)
    by_hand = -(y * torch.log(f) + (1 - y) * torch.log(1 - f))
    torch.testing.assert_close(loss.value(z, y), by_hand.detach())
    torch.testing.assert_close(loss.dz(z, y), autograd_dz("bce", z, y))
    by_hand.sum().backward()
    torch.testing.assert_close(loss.output_epsilon(z, y), f.grad.abs())
    torch.testing.assert_close(loss.output_epsilon(z, y), 1 / (1 - y - torch.sigmoid(z)).abs())
    torch.testing.assert_close(LOSSES["bce_half"].output_epsilon(z, y),
                               loss.output_epsilon(z, y) / 2)
    torch.testing.assert_close(LOSSES["mse_half"].output_epsilon(z, y.double()),
                               (z - y).abs())


def test_cross_entropy_error_is_zero_one() -> None:
    z = torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.1, 0.2, 0.3], [5.0, -1.0, 4.9]])
    y = torch.tensor([0, 2, 2, 1])
    loss = LOSSES["cross_entropy"]
    torch.testing.assert_close(loss.error(z, y), torch.tensor([0.0, 1.0, 0.0, 1.0]))
    manual = torch.logsumexp(z, dim=1) - z[torch.arange(4), y]
    torch.testing.assert_close(loss.value(z, y), manual)
    assert loss.dz is None and loss.classifier


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_losses_take_leading_member_axes(name: str) -> None:
    # the eager ensemble step calls each loss once on (M, B[, K]) outputs: every member's row
    # must be that member's own per-example losses (cross-entropy reads axis 1 as the classes
    # unless the leading axes are flattened)
    generator = torch.Generator().manual_seed(0)
    scalar = LOSSES[name].dz is not None  # a scalar output per example
    z = torch.randn((3, 5) if scalar else (3, 5, 4), generator=generator, dtype=torch.float64)
    y = (torch.randint(0, 2, (3, 5), generator=generator) if name in ("bce_half", "bce")
         else torch.randn(3, 5, generator=generator, dtype=torch.float64) if scalar
         else torch.randint(0, 4, (3, 5), generator=generator))
    batched = LOSSES[name].value(z, y)
    assert batched.shape == (3, 5)
    for member in range(3):
        torch.testing.assert_close(batched[member], LOSSES[name].value(z[member], y[member]),
                                   rtol=0, atol=0)
