"""trainlens publish: a scale's build copied to replication/<scale>/ with a checkable manifest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from trainlens.publish import publish
from trainlens.publish_study import publish_study

CLAIMS_HEADER = "paper\tclaim_id\tpassed\tgit_commit\n"


def fake_build(root: Path, paper: str, commit: str = "abc123") -> None:
    """The files a finished build leaves for one paper: claims, report, two PNGs, a benchmark."""
    results, plots = root / "results" / "cpu" / paper, root / "figures" / "cpu" / paper
    (results / "benchmarks" / "train_group").mkdir(parents=True)
    plots.mkdir(parents=True)
    (results / "claims.tsv").write_text(CLAIMS_HEADER + f"{paper}\tC1\tPASS\t{commit}\n")
    (plots / "REPORT.md").write_text(f"# {paper}\n![a](figA.png)\n")
    (plots / "figA.png").write_bytes(b"\x89PNG a")
    (plots / "figB.png").write_bytes(b"\x89PNG b")
    (plots / "figA.pdf").write_bytes(b"%PDF not published")
    (results / "benchmarks" / "train_group" / "e1-1234abcd.tsv").write_text(
        "s\th:m:s\tmax_rss\tcpu_time\n12.34\t0:00:12\t456.7\t10.04\n")


def test_publish_copies_the_record_and_hashes_every_file(tmp_path):
    for paper in ("p1", "p2"):
        fake_build(tmp_path, paper)
    manifest_path = publish(tmp_path, "cpu", ["p1", "p2"], tmp_path / "replication" / "cpu",
                            build_wall_s=600.0)
    manifest = json.loads(manifest_path.read_text())
    out = tmp_path / "replication" / "cpu"
    assert sorted(manifest["files"]) == sorted(
        f"{p}/{name}" for p in ("p1", "p2")
        for name in ("claims.tsv", "REPORT.md", "figA.png", "figB.png"))
    for relpath, digest in manifest["files"].items():
        assert hashlib.sha256((out / relpath).read_bytes()).hexdigest() == digest
    assert not (out / "p1" / "figA.pdf").exists()  # PDFs stay in figures/
    assert manifest["commit"] == "abc123"
    assert manifest["build_wall_s"] == 600.0
    assert {(j["paper"], j["rule"], j["job"], j["wall_s"]) for j in manifest["jobs"]} == {
        ("p1", "train_group", "e1-1234abcd", 12.3), ("p2", "train_group", "e1-1234abcd", 12.3)}
    assert manifest["timed_jobs_wall_s"] == pytest.approx(24.6)
    assert manifest["per_paper"]["p1"] == {"jobs_wall_s": 12.3, "jobs_cpu_time_s": 10.0}
    assert manifest["machine"]["cpu_cores"] >= 1 and manifest["versions"]["python"]


def test_publish_replaces_an_earlier_record(tmp_path):
    fake_build(tmp_path, "p1")
    stale = tmp_path / "replication" / "cpu" / "p1" / "figOLD.png"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    publish(tmp_path, "cpu", ["p1"], tmp_path / "replication" / "cpu")
    assert not stale.exists()


def test_publish_refuses_a_build_of_two_commits(tmp_path):
    fake_build(tmp_path, "p1", commit="aaa")
    fake_build(tmp_path, "p2", commit="bbb")
    with pytest.raises(SystemExit, match="2 commits"):
        publish(tmp_path, "cpu", ["p1", "p2"], tmp_path / "out")


def test_publish_names_a_missing_report(tmp_path):
    fake_build(tmp_path, "p1")
    (tmp_path / "figures" / "cpu" / "p1" / "REPORT.md").unlink()
    with pytest.raises(SystemExit, match="figures/cpu/p1/REPORT.md.*scale=cpu"):
        publish(tmp_path, "cpu", ["p1"], tmp_path / "out")


def fake_study_build(root: Path, study: str = "atlas") -> None:
    """What a study's build leaves: report, correlations, table, one PNG, a runs table."""
    results, plots = root / "results" / "cpu" / study, root / "figures" / "cpu" / study
    (results / "tables").mkdir(parents=True)
    plots.mkdir(parents=True)
    (plots / "REPORT.md").write_text("# atlas\n![x](figX01.png)\n")
    (plots / "correlations.tsv").write_text("setting\ta\tb\trho\n")
    (plots / "figX01.png").write_bytes(b"\x89PNG x")
    (results / "tables" / f"{study}.parquet").write_bytes(b"PAR1 not read")
    pd.DataFrame({"git_commit": ["c0ffee"]}).to_parquet(results / "tables" / "runs.parquet")


def test_publish_study_copies_and_hashes_its_files(tmp_path):
    fake_study_build(tmp_path)
    out = tmp_path / "replication" / "cpu" / "atlas"
    manifest = json.loads(publish_study(tmp_path, "cpu", "atlas", out, 900.0).read_text())
    assert sorted(manifest["files"]) == ["REPORT.md", "atlas.parquet", "correlations.tsv",
                                         "figX01.png"]
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
    assert manifest["tables_commits"] == ["c0ffee"] and manifest["build_wall_s"] == 900.0


def test_publish_study_names_what_is_missing(tmp_path):
    fake_study_build(tmp_path)
    (tmp_path / "figures" / "cpu" / "atlas" / "correlations.tsv").unlink()
    with pytest.raises(SystemExit, match="figures/cpu/atlas/correlations.tsv.*figures/atlas/"
                                         "REPORT.md --config scale=cpu"):
        publish_study(tmp_path, "cpu", "atlas", tmp_path / "out")
