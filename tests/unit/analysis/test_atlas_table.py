"""The atlas table on hand-made runs/metrics tables, each expected row computed by hand
(analysis/atlas/table.py; the contract is ATLAS's table in analysis/atlas/notes.md)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from trainlens.cli import load_module

REPO = Path(__file__).resolve().parents[3]
TABLE = load_module(REPO / "analysis" / "atlas" / "table.py")


def _m(run_id: str, metric: str, split: str, step: int, value: float) -> dict:
    return {"run_id": run_id, "step": step, "epoch": step / 10, "split": split, "metric": metric,
            "value": value}


def _tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    runs = pd.DataFrame([
        {"run_id": "a", "experiment": "sinusoid_mlp", "seed": 0, "status": "ok",
         "varied": "train.lr", "train_lr": 0.05, "data_label_corruption": float("nan")},
        {"run_id": "b", "experiment": "mnist_mlp", "seed": 1, "status": "ok",
         "varied": "base", "train_lr": 0.1, "data_label_corruption": 0.0},
        {"run_id": "c", "experiment": "mnist_mlp", "seed": 2, "status": "diverged",
         "varied": "data.label_corruption", "train_lr": 0.1, "data_label_corruption": 0.2},
    ])
    rows = []
    # run a: 12 epochs ending at steps 10, 20, ..., 120; τ_k = k, V_k = 0.1 k, d_k = k²
    for k in range(1, 13):
        rows += [_m("a", "trajectory_mean", "train", 10 * k, k),
                 _m("a", "update_variance", "train", 10 * k, 0.1 * k),
                 _m("a", "distance_from_init", "train", 10 * k, k * k)]
    for step, lam, train, test in ((0, 1.0, 0.9, 0.95), (55, 2.0, 0.4, 0.6), (120, 3.0, 0.2, 0.7)):
        rows += [_m("a", "lipschitz_mean", "train", step, lam),
                 _m("a", "checkpoint_loss", "train", step, train),
                 _m("a", "checkpoint_loss", "test", step, test)]
    # run b: stiffness at two checkpoints; ξ censored ("below", status 2) at 100, found at 200
    for step, xi, status in ((100, 0.7, 2), (200, 0.9, 0)):
        rows += [_m("b", "stiffness_within_cos", "vv", step, 0.8),
                 _m("b", "stiffness_between_cos", "vv", step, 0.3),
                 _m("b", "stiffness_within_sign", "vv", step, 1.0),
                 _m("b", "stiffness_between_sign", "vv", step, 0.4),
                 _m("b", "xi_fit", "vv", step, xi), _m("b", "xi_fit_status", "vv", step, status),
                 _m("b", "checkpoint_error", "test", step, 0.1)]
    # run c diverged: never in the atlas
    rows += [_m("c", "lipschitz_mean", "train", 100, 5.0)]
    return runs, pd.DataFrame(rows)


@pytest.fixture(scope="module")
def atlas() -> pd.DataFrame:
    return TABLE.atlas_table(*_tables())


def _value(atlas: pd.DataFrame, run_id: str, step: int, measure: str) -> float:
    (value,) = atlas.loc[(atlas["run_id"] == run_id) & (atlas["step"] == step)
                         & (atlas["measure"] == measure), "value"]
    return value


def test_columns_and_only_ok_runs(atlas):
    assert list(atlas.columns) == ["setting", "run_id", "seed", "varied", "knob_value", "step",
                                   "epoch", "measure", "value"]
    assert set(atlas["run_id"]) == {"a", "b"}


def test_rows_of_run_a_by_hand(atlas):
    a = atlas[atlas["run_id"] == "a"]
    by_step = {step: set(rows["measure"]) for step, rows in a.groupby("step")}
    # at step 0 no epoch has ended: no τ, V or d row
    assert by_step[0] == {"lambda_train_mean", "train_loss", "test_loss", "gen_gap"}
    assert by_step[55] == by_step[120] == by_step[0] | {"tau", "variance_v", "distance_d"}
    assert _value(atlas, "a", 55, "tau") == pytest.approx((1 + 2 + 3 + 4 + 5) / 5)
    assert _value(atlas, "a", 120, "tau") == pytest.approx(sum(range(3, 13)) / 10)  # epochs 3-12
    assert _value(atlas, "a", 55, "variance_v") == pytest.approx(0.5)
    assert _value(atlas, "a", 120, "distance_d") == pytest.approx(144.0)
    assert _value(atlas, "a", 120, "gen_gap") == pytest.approx(0.7 - 0.2)
    assert _value(atlas, "a", 55, "lambda_train_mean") == 2.0
    assert (a["setting"] == "sinusoid_mlp").all() and (a["knob_value"] == 0.05).all()
    assert (a["varied"] == "train.lr").all() and (a["seed"] == 0).all()
    assert set(a.loc[a["step"] == 120, "epoch"]) == {12.0}


def test_rows_of_run_b_by_hand(atlas):
    b = atlas[atlas["run_id"] == "b"]
    assert b["knob_value"].isna().all()  # the base point varies nothing
    assert set(b["measure"]) == {"stiffness_cos_delta", "stiffness_sign_delta", "xi",
                                 "test_error"}  # absent measures have no row, not 0
    assert _value(atlas, "b", 100, "stiffness_cos_delta") == pytest.approx(0.5)
    assert _value(atlas, "b", 100, "stiffness_sign_delta") == pytest.approx(0.6)
    assert math.isnan(_value(atlas, "b", 100, "xi"))  # censored
    assert _value(atlas, "b", 200, "xi") == pytest.approx(0.9)
    assert len(b) == 8


def test_knob_column():
    assert TABLE.knob_column("train.lr") == "train_lr"
    assert TABLE.knob_column("model.hidden_layers") == "model_hidden_layers"


def test_knob_values_by_hand():
    runs = pd.DataFrame([{"varied": "model.hidden_layers", "model_hidden_layers": 3},
                         {"varied": "base", "model_hidden_layers": 2},
                         {"varied": "model.widths", "model_hidden_layers": 2},  # no such column
                         {"varied": "data.name", "model_hidden_layers": 2, "data_name": "mnist"}])
    values = TABLE.knob_values(runs)
    assert values.iloc[0] == 3.0 and values.iloc[1:].isna().all()
