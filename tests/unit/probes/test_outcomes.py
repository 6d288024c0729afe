"""The atlas ``outcomes`` probe: checkpoint loss and error of a tiny linear model by hand."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from trainlens.data.base import Split
from trainlens.measure import run_probe
from trainlens.measure.inputs import RunInputs
from trainlens.probes import PROBES
from trainlens.probes.outcomes import outcome_rows

W, B = (1.0, -2.0), 0.5
X_TRAIN = ((1.0, 0.0), (0.0, 1.0), (2.0, 1.0))  # z = w·x + b = 1.5, -1.5, 0.5
X_TEST = ((0.0, 0.0), (1.0, 1.0))  # z = 0.5, -0.5


class Scalar(nn.Module):
    """f(x) = w·x + b, shape (N,), with a dropout that only eval mode switches off."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 1).double()
        with torch.no_grad():
            self.linear.weight.copy_(torch.tensor([W], dtype=torch.float64))
            self.linear.bias.fill_(B)
        self.dropout = nn.Dropout(0.9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.linear(x)).squeeze(-1)


def _z(x: tuple[float, float]) -> float:
    return W[0] * x[0] + W[1] * x[1] + B


def _split(y_train: tuple[float, ...], y_test: tuple[float, ...]) -> Split:
    t = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    return Split(t(X_TRAIN), t(y_train), t(X_TEST), t(y_test))


def _sets(split: Split) -> dict:
    """The train and test input sets the measure stage hands the outcomes probe."""
    return RunInputs(split).for_probe(PROBES["outcomes"], None)


def _values(rows: list[dict]) -> dict[tuple[str, str], float]:
    return {(r["split"], r["metric"]): r["value"] for r in rows}


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def test_mse_half_loss_and_error_by_hand():
    y_train, y_test = (0.0, -1.0, 2.0), (1.0, 0.0)
    model = Scalar().train()
    got = _values(outcome_rows(model, _sets(_split(y_train, y_test)), "mse_half", chunk=2))
    for name, xs, ys in (("train", X_TRAIN, y_train), ("test", X_TEST, y_test)):
        residuals = [_z(x) - y for x, y in zip(xs, ys)]
        assert got[(name, "checkpoint_loss")] == pytest.approx(
            sum(0.5 * r * r for r in residuals) / len(xs), rel=1e-12)
        assert got[(name, "checkpoint_error")] == pytest.approx(
            sum(abs(r) for r in residuals) / len(xs), rel=1e-12)
    # train: residuals 1.5, -0.5, -1.5 -> loss 4.75/6, error 3.5/3
    assert got[("train", "checkpoint_loss")] == pytest.approx(4.75 / 6)
    assert model.training  # eval mode for the measurement only


def test_bce_loss_and_error_by_hand():
    y_train, y_test = (1.0, 0.0, 0.0), (0.0, 1.0)
    split = _split(y_train, y_test)
    got = _values(run_probe("outcomes", Scalar(), split, {}, loss="bce"))
    assert set(got) == {(s, m) for s in ("train", "test")
                        for m in ("checkpoint_loss", "checkpoint_error")}
    for name, xs, ys in (("train", X_TRAIN, y_train), ("test", X_TEST, y_test)):
        p = [_sigmoid(_z(x)) for x in xs]
        losses = [-math.log(q) if y == 1 else -math.log(1 - q) for q, y in zip(p, ys)]
        assert got[(name, "checkpoint_loss")] == pytest.approx(sum(losses) / len(xs), rel=1e-12)
        assert got[(name, "checkpoint_error")] == pytest.approx(
            sum(abs(q - y) for q, y in zip(p, ys)) / len(xs), rel=1e-12)


def test_outcomes_needs_the_run_loss():
    with pytest.raises(ValueError, match="train.loss"):
        run_probe("outcomes", Scalar(), _split((0.0,) * 3, (0.0,) * 2), {})
