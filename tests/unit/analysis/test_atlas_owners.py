"""Every measure of the atlas table equals, on the same checkpoint, the value the owning paper's
code computes (docs/protocols/atlas.md §4): λ and the trajectory statistics of loukas2021, GC of
dherin2022, stiffness and ξ of fort2019, the NTK diagonal and PR_W of nakazato2024, and the
outcomes. One small atlas group per setting is trained and measured by the suite's own train and
measure stages; each owner's value is then recomputed from the final checkpoint (or, for the
trajectory statistics, from the training table) by the owner's functions or by hand."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch import nn

from trainlens.cli import load_module
from trainlens.data.sinusoid import far_field_inputs
from trainlens.experiments.loading import load_experiments
from trainlens.io import load_checkpoint
from trainlens.measure import build_members, measure_group, run_probe
from trainlens.probes.feature_space import participation_ratio
from trainlens.probes.geometric_complexity import geometric_complexity
from trainlens.probes.lipschitz import input_gradient_norms
from trainlens.tables import read_table
from trainlens.training.group import train_group
from trainlens.training.losses import LOSSES

REPO = Path(__file__).resolve().parents[3]
ATLAS = load_module(REPO / "analysis" / "atlas" / "table.py")
LOUKAS = load_module(REPO / "analysis" / "loukas2021" / "stats.py")
final_value, tau_last10, window_variance = (LOUKAS.final_value, LOUKAS.tau_last10,
                                            LOUKAS.window_variance)
SETTINGS = ("sinusoid_mlp", "mnist_mlp", "mnist_cnn")


def _small_group(setting: str) -> dict:
    """The smoke group of ``setting``: seed 0's base and first two variations, 12 epochs (so τ's
    10-epoch window is full), two checkpoints besides init and the end."""
    group = next(g for g in load_experiments(REPO / "experiments" / "atlas.yaml", "smoke")
                 if g.experiment == setting)
    config = copy.deepcopy(group.config)
    config["members"] = [m for m in config["members"] if m["seed"] == 0][:3]
    config["train"].update(epochs=12, checkpoints=2)
    return config


@pytest.fixture(scope="module", params=SETTINGS)
def built(request, tmp_path_factory):
    """(config, data root, final checkpoint, training metrics, atlas table) of one setting."""
    root = tmp_path_factory.mktemp(request.param)
    config = _small_group(request.param)
    config_path = root / "config.json"
    config_path.write_text(json.dumps(config))
    paths = {name: root / f"{name}.parquet" for name in ("runs", "train", "probe")}
    train_group(config_path, root / "data", paths["runs"], paths["train"], root / "checkpoints")
    measure_group(config_path, root / "checkpoints", root / "data", paths["probe"])
    train_metrics = read_table(paths["train"], "metrics")
    metrics = pd.concat([train_metrics, read_table(paths["probe"], "metrics")])
    atlas = ATLAS.atlas_table(read_table(paths["runs"], "runs"), metrics)
    final = load_checkpoint(sorted((root / "checkpoints").glob("step_*.pt"))[-1])
    return config, root / "data", final, train_metrics, atlas


def _final_models(config: dict, data_root: Path, checkpoint: dict) -> list:
    """The group's members with the final checkpoint's parameters loaded."""
    members = build_members(config, data_root, torch.device("cpu"))
    for index, member in enumerate(members):
        member.model.load_state_dict({k: v[index] for k, v in checkpoint["params"].items()})
        member.model.eval()
    return members


def _atlas_value(atlas: pd.DataFrame, run_id: str, step: int, measure: str) -> float:
    rows = atlas[(atlas["run_id"] == run_id) & (atlas["step"] == step)
                 & (atlas["measure"] == measure)]
    assert len(rows) == 1, f"{measure} of {run_id} at step {step}: {len(rows)} rows"
    return float(rows["value"].iloc[0])


def _ntk_by_hand(model: nn.Module, x: torch.Tensor) -> float:
    """mean_x Σ_k ‖∇θ f_k(x)‖², one autograd call per example and output (nakazato2024 §4.1)."""
    params = [p for p in model.parameters() if p.requires_grad]
    total = 0.0
    for example in x:
        out = model(example.unsqueeze(0)).reshape(-1)
        for k in range(out.numel()):
            grads = torch.autograd.grad(out[k], params, retain_graph=True)
            total += sum(float(g.to(torch.float64).pow(2).sum()) for g in grads)
    return total / len(x)


def _pr_w_by_hand(model: nn.Module) -> float:
    """PR_W (nakazato2024 §4.5) of the first layer with a trainable weight matrix: [W|b], one row
    per unit (a convolution's kernels flattened)."""
    layer = next(m for m in model.modules() if isinstance(m, nn.Linear | nn.Conv2d)
                 and m.weight.requires_grad)
    rows = layer.weight.detach().to(torch.float64).flatten(1)
    if layer.bias is not None:
        rows = torch.cat([rows, layer.bias.detach().to(torch.float64).unsqueeze(1)], dim=1)
    return participation_ratio(torch.linalg.svdvals(rows) ** 2)


def _owners(config: dict, member, train_metrics: pd.DataFrame) -> dict[str, float]:
    """Each measure as its owner computes it on the member's final checkpoint."""
    model, split = member.model, member.split
    loss = LOSSES[config["train"]["loss"]]
    values = {
        "lambda_train_mean": float(input_gradient_norms(model, split.x_train).mean()),
        "lambda_train_max": float(input_gradient_norms(model, split.x_train).max()),
        "lambda_test_mean": float(input_gradient_norms(model, split.x_test).mean()),
        "gc": float(geometric_complexity(model, split.x_train)),
        "ntk_diagonal": _ntk_by_hand(model, split.x_train[:100]),
        "pr_w": _pr_w_by_hand(model),
    }
    run = train_metrics[train_metrics["run_id"] == member.run_id]
    values["tau"] = float(tau_last10(run).iloc[0])
    values["variance_v"] = float(window_variance(run).iloc[0])
    values["distance_d"] = float(final_value(run, "distance_from_init", "train").iloc[0])
    with torch.no_grad():
        for name, x, y in (("train", split.x_train, split.y_train),
                           ("test", split.x_test, split.y_test)):
            z = model(x).squeeze(-1) if loss.dz is not None else model(x)
            values[f"{name}_loss"] = float(loss.value(z, y).mean())
            values[f"{name}_error"] = float(loss.error(z, y).mean())
    values["gen_gap"] = values["test_loss"] - values["train_loss"]
    if "far_field" in str(config["probes"]):
        x_far = far_field_inputs(split)["far_field"]
        values["lambda_far_mean"] = float(input_gradient_norms(model, x_far).mean())
    if "stiffness" in config["probes"]:
        rows = {(r["metric"], r["split"]): r["value"] for r in run_probe(
            "stiffness", model, split, config, loss=config["train"]["loss"])}
        for measure in ("cos", "sign"):
            values[f"stiffness_{measure}_delta"] = (rows[(f"stiffness_within_{measure}", "vv")]
                                                    - rows[(f"stiffness_between_{measure}", "vv")])
        # ξ where the owner found it, NaN where its status says censored
        values["xi"] = rows[("xi_fit", "vv")] if rows[("xi_fit_status", "vv")] == 0 else math.nan
    return values


def test_every_atlas_measure_equals_its_owners_value_on_the_final_checkpoint(built):
    config, data_root, checkpoint, train_metrics, atlas = built
    step = int(checkpoint["step"])
    tolerance = 1e-9 if config["train"]["dtype"] == "float64" else 1e-5
    for member in _final_models(config, data_root, checkpoint):
        owners = _owners(config, member, train_metrics)
        in_table = set(atlas.loc[(atlas["run_id"] == member.run_id)
                                 & (atlas["step"] == step), "measure"])
        # the table holds exactly the measures the owners define for this setting
        assert in_table == set(owners), (in_table ^ set(owners))
        for measure, expected in owners.items():
            found = _atlas_value(atlas, member.run_id, step, measure)
            if math.isnan(expected):
                assert math.isnan(found), measure
                continue
            assert found == pytest.approx(expected, rel=tolerance, abs=1e-12), measure
