"""Validated tables, claim verdicts from fixed criteria, and the build manifest."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trainlens.claims import (
    ClaimInputs,
    ClaimSet,
    Criterion,
    evaluate,
    run_claims,
    stops_the_build,
)
from trainlens.report import gating_failures, write_manifest
from trainlens.tables import read_table, validate, write_table


def metrics_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "run_id": ["r0", "r0", "r1", "r2"], "step": [0, 10, 10, 10],
        "epoch": [0.0, 0.5, 0.5, 0.5], "split": ["train", "test", "train", "train"],
        "metric": ["loss", "loss", "loss", "loss"], "value": [1.25, 0.1 / 3, 2.0, 1e300],
    })


def runs_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "run_id": ["r0", "r1", "r2"], "paper": "p", "experiment": "e1a", "group_id": "g",
        "seed": [0, 1, 2], "status": ["ok", "ok", "diverged"],
        "diverged_step": [np.nan, np.nan, 7.0], "wall_time_s": [1.5, 2.0, 0.25],
        "device": "cpu", "git_commit": "abc1234",
    })


def claims_frame() -> pd.DataFrame:
    row = {"paper": "p", "claim_id": "C1", "figure": "fig1", "source": "§6", "statement": "s",
           "statistic": "rho", "value": "rho=0.9", "threshold": "rho >= 0.5", "scale": "smoke",
           "passed": "PASS", "gating": "yes", "n_runs": 3, "reason": "", "known_cause": "",
           "git_commit": "NA"}
    return pd.DataFrame([row, {**row, "claim_id": "C2", "passed": "", "gating": "",
                               "threshold": "", "reason": "not built yet: later"}])


@pytest.mark.parametrize(("table", "make", "drop"), [
    ("metrics", metrics_frame, "value"), ("runs", runs_frame, "status"),
    ("claims", claims_frame, "gating"),
])
def test_missing_column_is_named(table: str, make, drop: str) -> None:
    with pytest.raises(ValueError, match=f"missing column.*'{drop}'"):
        validate(make().drop(columns=[drop]), table)


@pytest.mark.parametrize(("column", "values"), [
    ("step", [0.0, 10.5, 10.0, 10.0]), ("value", ["a", "b", "c", "d"]), ("split", [1, 2, 3, 4]),
])
def test_wrong_dtype_is_named(column: str, values: list) -> None:
    frame = metrics_frame().assign(**{column: values})
    with pytest.raises(ValueError, match=f"column '{column}'"):
        validate(frame, "metrics")


@pytest.mark.parametrize("suffix", [".parquet", ".tsv"])
@pytest.mark.parametrize(("table", "make"), [
    ("metrics", metrics_frame), ("runs", runs_frame), ("claims", claims_frame),
])
def test_write_read_round_trip(tmp_path: Path, table: str, make, suffix: str) -> None:
    path = tmp_path / "sub" / f"{table}{suffix}"
    write_table(make(), path, table)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left behind
    pd.testing.assert_frame_equal(read_table(path, table), make(), check_exact=True)


@pytest.mark.parametrize(("op", "threshold", "observed", "expected"), [
    (">=", 0.5, 0.5, True), (">=", 0.5, 0.49, False), ("<", 0.1, 0.05, True),
    ("<", 0.1, 0.1, False), ("==", True, True, True), ("==", True, False, False),
    (">=", 0.5, float("nan"), False), ("<", 0.1, float("nan"), False),
    ("<", 0.1, np.float64("nan"), False), ("==", 0.0, float("nan"), False),
])
def test_criterion_operators(op: str, threshold, observed, expected: bool) -> None:
    assert Criterion("s", op, threshold).holds({"s": observed}) is expected


def test_criterion_missing_statistic_never_passes() -> None:
    assert not Criterion("s", "<", 1.0).holds({"other": 0.0})


def tiny_claims() -> ClaimSet:
    claims = ClaimSet("tiny")

    @claims.claim("C1", "fig1", "§6", "mean loss is small", "mean_loss",
                  {"smoke": [Criterion("mean_loss", "<", 1.8), Criterion("n", ">=", 2)],
                   "paper": [Criterion("mean_loss", "<", 1.0),
                             Criterion("n", ">=", 5, gating=False)]},
                  paper_says="Fig. 1: the loss is small")
    def c1(inputs: ClaimInputs) -> dict:
        losses = inputs.metrics[inputs.metrics["split"] == "train"]["value"]
        return {"mean_loss": float(losses.mean()), "n": len(inputs.runs)}

    @claims.claim("C2", "fig2", "§6", "only at smoke", "n", {"smoke": [Criterion("n", ">=", 1)]},
                  not_evaluated={"paper": "smoke-only check"}, paper_says="no number")
    def c2(inputs: ClaimInputs) -> dict:
        return {"n": len(inputs.runs)}

    claims.pending("C3", "fig3", "§7", "later", "tau", reason="needs the E2 probe",
                   paper_says="no number")
    return claims


def test_run_claims_pass_and_exclusion() -> None:
    table = run_claims(tiny_claims(), runs_frame(), metrics_frame(), "smoke").set_index("claim_id")
    c1 = table.loc["C1"]
    # r2 diverged: its 1e300 loss is excluded, mean train loss of r0, r1 = (1.25 + 2.0) / 2
    assert c1["value"] == "mean_loss=1.625; n=2"
    assert (c1["passed"], c1["gating"], c1["n_runs"]) == ("PASS", "yes", 2)
    assert c1["reason"] == "1 diverged/failed run(s) excluded"
    assert table.loc["C3", "passed"] == "" and "needs the E2 probe" in table.loc["C3", "reason"]
    assert set(table["paper"]) == {"tiny"}
    validate(table.reset_index(), "claims")


def test_failing_gating_and_non_gating_criteria() -> None:
    ok_runs = runs_frame().iloc[:2]
    table = run_claims(tiny_claims(), ok_runs, metrics_frame(), "paper").set_index("claim_id")
    c1 = table.loc["C1"]
    assert (c1["passed"], c1["gating"]) == ("FAIL", "yes") and stops_the_build(c1)
    assert "mean_loss < 1.0" in c1["reason"] and "n >= 5 (non-gating)" in c1["reason"]
    assert "excluded" not in c1["reason"]

    claims = ClaimSet("tiny")
    claims.claim("C1", "f", "s", "st", "n", {"paper": [Criterion("n", ">=", 1),
                                                        Criterion("n", ">=", 5, gating=False)]},
                 paper_says="no number")(lambda inputs: {"n": len(inputs.runs)})
    row = evaluate(claims.claims["C1"], ClaimInputs(ok_runs, metrics_frame(), "paper"))
    # a FAIL of the non-gating criterion alone: the claim gates, but this FAIL does not stop
    assert (row["passed"], row["gating"]) == ("FAIL", "yes") and not stops_the_build(row)
    assert row["reason"] == "failed: n >= 5 (non-gating)"


def test_scale_without_criteria_reports_statistic_only() -> None:
    inputs = ClaimInputs(runs_frame().iloc[:2], metrics_frame(), "paper")
    row = evaluate(tiny_claims().claims["C2"], inputs)
    assert (row["passed"], row["gating"], row["threshold"]) == ("", "", "")
    assert row["value"] == "n=2" and row["reason"] == "smoke-only check"


def test_manifest_lists_sha256_of_each_file(tmp_path: Path) -> None:
    files = {"b.png": b"\x89PNG fake", "a/REPORT.md": b"# report\n", "c.pdf": b""}
    paths = []
    for name, blob in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(blob)
        paths.append(tmp_path / name)
    out = write_manifest(paths, tmp_path / "all")
    lines = out.read_text().splitlines()
    assert lines[0] == "path\tsha256"
    expected = sorted(f"{tmp_path / n}\t{hashlib.sha256(b).hexdigest()}" for n, b in files.items())
    assert lines[1:] == expected


def test_gating_failures_only_gating_fail_rows(tmp_path: Path) -> None:
    """Only a FAIL of a gating criterion of a gating claim counts; a gating claim that failed
    only its non-gating criterion (C5) and a non-gating claim (C4) do not."""
    frame = claims_frame()
    rows = pd.concat([frame, frame.assign(
        claim_id=["C3", "C4"], gating=["yes", "no"], passed=["FAIL", "FAIL"],
        reason=["failed: x >= 1", "failed: y >= 1 (non-gating)"]), frame.iloc[:1].assign(
        claim_id="C5", gating="yes", passed="FAIL", reason="failed: z >= 1 (non-gating)")])
    first, second = tmp_path / "p.tsv", tmp_path / "q.tsv"
    rows.to_csv(first, sep="\t", index=False)
    frame.assign(paper="q", gating="yes", passed="FAIL", reason="failed: r < 0").iloc[:1].to_csv(
        second, sep="\t", index=False)
    assert gating_failures([first, second]) == ["p:C3 (failed: x >= 1)", "q:C1 (failed: r < 0)"]
    assert gating_failures([]) == []


def test_a_fail_explains_itself_with_its_known_cause() -> None:
    """REPORT.md's 'What failed, and why': the failed criterion with the value observed, and the
    claim's known cause at this scale, or that the FAIL is the result."""
    from trainlens.report import why_they_fail

    claims = ClaimSet("tiny")
    claims.claim("C1", "f", "s", "Loss is small.", "mean_loss",
                 {"smoke": [Criterion("mean_loss", "<", 1.0)]}, paper_says="no number",
                 known_causes={"smoke": "at smoke scale the runs are too short to fit"})(
        lambda inputs: {"mean_loss": 1.625})
    claims.claim("C2", "f", "s", "n is large.", "n",
                 {"smoke": [Criterion("n", ">=", 5, gating=False)]},
                 paper_says="no number")(lambda inputs: {"n": 2})
    table = run_claims(claims, runs_frame().iloc[:2], metrics_frame(), "smoke")
    assert list(table["known_cause"]) == ["at smoke scale the runs are too short to fit", ""]
    text = "\n".join(why_they_fail(table, "smoke"))
    assert ("- **C1** (gating): Loss is small. Failed: mean_loss < 1.0 (observed 1.625). "
            "Known cause at smoke scale: at smoke scale the runs are too short to fit") in text
    assert ("- **C2** (non-gating): n is large. Failed: n >= 5 (non-gating) (observed 2). "
            "No known cause: at smoke scale this is the result.") in text
    passing = run_claims(claims, runs_frame().iloc[:2], metrics_frame(), "paper")
    assert why_they_fail(passing, "paper") == []  # no criteria at paper scale: nothing failed
