"""The cpu scale: paper scale with an experiment's ``cpu:`` block on top, run only where that
block exists, and judged by the paper-scale criteria (never looser ones)."""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import yaml

from trainlens.claims import ClaimSet, Criterion, run_claims
from trainlens.experiments.loading import load_experiments
from trainlens.experiments.scales import resolve_scale, runs_at

LOUKAS = Path(__file__).resolve().parents[2] / "experiments" / "loukas2021.yaml"


def test_cpu_resolves_as_paper_with_the_cpu_block_on_top():
    spec = {"seeds": [0], "train": {"lr": 1.0, "epochs": 10, "batch_size": 1},
            "smoke": {"train": {"epochs": 2}}, "paper": {"train": {"epochs": 100, "lr": 2.0}},
            "cpu": {"train": {"batch_size": 8}}}
    assert resolve_scale(spec, "cpu")["train"] == {"lr": 2.0, "epochs": 100, "batch_size": 8}
    assert resolve_scale(spec, "paper")["train"] == {"lr": 2.0, "epochs": 100, "batch_size": 1}
    assert resolve_scale(spec, "smoke")["train"] == {"lr": 1.0, "epochs": 2, "batch_size": 1}
    assert resolve_scale({**spec, "cpu": {}}, "cpu") == resolve_scale(spec | {"cpu": {}}, "paper")


def test_an_experiment_runs_at_cpu_only_with_a_cpu_block():
    assert not runs_at({"seeds": [0]}, "cpu") and runs_at({"seeds": [0], "cpu": {}}, "cpu")
    assert not runs_at({"cpu": {}, "scales": ["paper"]}, "cpu")
    assert runs_at({"seeds": [0]}, "smoke") and runs_at({"seeds": [0]}, "paper")


def test_cpu_groups_equal_paper_groups_where_the_cpu_block_is_empty(tmp_path):
    document = yaml.safe_load(LOUKAS.read_text())
    for spec in document["experiments"].values():
        spec.pop("cpu", None)
    document["experiments"]["e1a"]["cpu"] = {}
    path = tmp_path / "loukas2021.yaml"
    path.write_text(yaml.safe_dump(copy.deepcopy(document)))
    cpu = load_experiments(path, "cpu")
    paper = [g for g in load_experiments(path, "paper") if g.experiment == "e1a"]
    assert {g.experiment for g in cpu} == {"e1a"}
    assert [g.group_id for g in cpu] == [g.group_id for g in paper]  # same science, same run ids
    for at_cpu, at_paper in zip(cpu, paper):
        assert at_cpu.config == {**at_paper.config, "scale": "cpu"}


def _claims() -> tuple[ClaimSet, list[str]]:
    claims, computed = ClaimSet("p"), []

    @claims.claim("C1", "fig1", "§6", "s", "rho",
                  {"smoke": [Criterion("rho", ">=", 0.1)], "paper": [Criterion("rho", ">=", 0.8)]},
                  paper_says="no number")
    def c1(inputs):
        computed.append("C1")
        return {"rho": 0.5}

    @claims.claim("C2", "fig1", "§6", "s", "rho", {"paper": [Criterion("rho", ">=", 0.1)]},
                  paper_says="no number")
    def c2(inputs):
        computed.append("C2")
        return {"rho": 1.0}

    claims.not_run_at("cpu", ["C2"], "paper scale only: needs CIFAR-10 and a GPU")
    return claims, computed


def test_cpu_claims_use_the_paper_thresholds_and_skip_what_does_not_run():
    claims, computed = _claims()
    runs = pd.DataFrame({"run_id": ["r"], "status": ["ok"]})
    metrics = pd.DataFrame({"run_id": ["r"], "metric": ["m"], "value": [0.0]})
    table = run_claims(claims, runs, metrics, "cpu").set_index("claim_id")
    assert table.loc["C1", "passed"] == "FAIL" and table.loc["C1", "threshold"] == "rho >= 0.8"
    assert table.loc["C2", "passed"] == "" and table.loc["C2", "value"] == ""
    assert table.loc["C2", "reason"] == ("not evaluated at cpu scale: paper scale only: needs "
                                         "CIFAR-10 and a GPU")
    assert computed == ["C1"]
    smoke = run_claims(claims, runs, metrics, "smoke").set_index("claim_id")
    assert smoke.loc["C1", "passed"] == "PASS"  # the smoke threshold is not the cpu one


def test_explicit_cpu_criteria_are_the_protocols_own():
    """A claim may name cpu criteria only where its paper-scale experiment does not run at cpu
    scale; each must be one of its smoke or paper criteria, never a new (looser) threshold."""
    from trainlens.cli import load_module

    analysis = Path(__file__).resolve().parents[2] / "analysis"
    for paper in ("loukas2021", "dherin2022", "fort2019", "nakazato2024"):
        claims = load_module(analysis / paper / "claims.py").claims
        for claim in claims.claims.values():
            others = claim.criteria.get("smoke", []) + claim.criteria.get("paper", [])
            for criterion in claim.criteria.get("cpu", []):
                assert criterion in others, f"{paper}:{claim.claim_id} {criterion.text()}"
