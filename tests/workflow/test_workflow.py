"""The workflow: dry-runs at both scales, lint, determinism, and the smoke run end to end."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
WORKFLOW_FILES = ("Snakefile", "rules", "experiments", "analysis", "envs", "report")


def snakemake(*args: str, cwd: Path = REPO, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=timeout)


@pytest.mark.parametrize(("scale", "folder"), [("smoke", "smoke"), ("paper", "paper"),
                                               ("paper slice=True", "paper-slice")])
def test_dry_run_builds_the_whole_dag(scale, folder):
    done = snakemake("-n", "--forceall", "figures/all", "--config", *f"scale={scale}".split())
    assert done.returncode == 0, done.stderr + done.stdout
    for rule in ("train_group", "measure_group", "plot_figure", "check_claims", "write_report",
                 "write_manifest", "copy_manifest"):
        assert rule in done.stdout
    # every output lives under its scale's folder: no build of one scale writes another's paths
    outputs = re.findall(r"^    (?:output|log): (.*)$", done.stdout, flags=re.MULTILINE)
    paths = [p for line in outputs for p in line.split(", ")]
    assert len(paths) > 100
    for path in set(paths) - {"figures/all"}:  # datasets and their download logs are shared
        parts = path.split("/")
        assert parts[0] == "data" or parts[:2] == ["logs", "data"] or parts[1] == folder, path
    assert f"output: figures/{folder}/all" in done.stdout


def test_figures_all_follows_the_configured_scale(tmp_path):
    """figures/all is the configured scale's manifest: after a smoke build, asking for it at paper
    scale rewrites it from figures/paper/all, even when that manifest is the older file (the copy's
    params and input rerun triggers). Only the copy runs: the manifests are stand-ins."""
    for name in WORKFLOW_FILES:
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / name)
    for scale in ("paper", "smoke"):  # paper's manifest first: the older file
        (tmp_path / "figures" / scale).mkdir(parents=True)
        (tmp_path / "figures" / scale / "all").write_text(f"path\tsha256\nfigures/{scale}/x\t0\n")
        time.sleep(0.05)
    only_copy = ("--cores", "1", "figures/all", "--allowed-rules", "copy_manifest")
    for scale in ("smoke", "paper", "smoke"):
        done = snakemake(*only_copy, "--config", f"scale={scale}", cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        assert (tmp_path / "figures" / "all").read_text() == (
            tmp_path / "figures" / scale / "all").read_text()


def test_lint_is_clean():
    done = snakemake("--lint")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Lints for" not in done.stdout + done.stderr


def test_bad_config_stops_the_workflow_naming_the_key():
    done = snakemake("-n", "figures/all", "--config", "scale=huge")
    assert done.returncode != 0
    assert "scale" in done.stderr + done.stdout and "huge" in done.stderr + done.stdout


def _train(config: Path, out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    out.mkdir()
    command = [shutil.which("trainlens") or "trainlens", "train", "--config", str(config),
               "--runs", str(out / "runs.parquet"), "--metrics", str(out / "metrics.parquet"),
               "--checkpoints", str(out / "ckpt"), "--trace", str(out / "trace.npz")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return pd.read_parquet(out / "runs.parquet"), pd.read_parquet(out / "metrics.parquet")


def test_same_seed_gives_identical_tables_across_fresh_processes(tmp_path, e1a_smoke_config):
    config = {**e1a_smoke_config, "train": {**e1a_smoke_config["train"], "epochs": 5},
              "members": e1a_smoke_config["members"][::4]}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    runs_a, metrics_a = _train(path, tmp_path / "a")
    runs_b, metrics_b = _train(path, tmp_path / "b")
    pd.testing.assert_frame_equal(metrics_a, metrics_b, check_exact=True)
    pd.testing.assert_frame_equal(runs_a.drop(columns="wall_time_s"),
                                  runs_b.drop(columns="wall_time_s"), check_exact=True)
    assert len(metrics_a) > 0 and set(runs_a["status"]) == {"ok"}


@pytest.mark.slow
def test_smoke_workflow_end_to_end(smoke_build):
    tmp_path, done = smoke_build
    assert done.returncode == 0, done.stderr[-5000:]
    results, plots = tmp_path / "results" / "smoke", tmp_path / "figures" / "smoke"
    # figures/all is the configured (smoke) scale's own manifest, and everything lives under it
    assert (tmp_path / "figures" / "all").read_text() == (plots / "all").read_text()
    assert {p.name for p in (tmp_path / "results").iterdir()} == {"smoke"}
    manifest = pd.read_csv(tmp_path / "figures" / "all", sep="\t")
    built = set(manifest["path"])
    stems = ["figR01_mlp_trajectory", "figR02_mlp_total_trajectory", "figR03_mlp_variance",
             "figR04_mlp_distance", "figR05_mlp_lipschitz", "figR06_mlp_losses",
             "figR07_cnn_dynamics", "figR08_cnn_losses", "figR09_mnist_architecture",
             "figR10_batch_size", "figX01_steadiness_far_lipschitz", "figX02_corruption_mlp",
             "fig06_linear_regions"]
    figures = {f"figures/smoke/loukas2021/{stem}.{ext}" for stem in stems for ext in ("pdf", "png")}
    assert figures | {"figures/smoke/loukas2021/REPORT.md"} <= built
    claims = pd.read_csv(results / "loukas2021" / "claims.tsv", sep="\t",
                         keep_default_na=False).set_index("claim_id")
    assert list(claims.index) == [f"C{i}" for i in range(1, 13)]  # every claim of the protocol
    evaluated = claims.loc[["C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C9", "C12"]]
    assert set(evaluated["passed"]) <= {"PASS", "FAIL"} and (evaluated["passed"] != "").all()
    assert claims.loc["C7", "passed"] == "PASS"  # an exact inequality: a FAIL is a bug (protocol)
    paper_only = claims.loc[["C10", "C11"]]  # docs/protocols/loukas2021.md §6: paper only, reported
    assert (paper_only["passed"] == "").all() and (paper_only["value"] != "").all()
    assert paper_only["reason"].str.contains("paper scale only").all()
    report = (plots / "loukas2021" / "REPORT.md").read_text()
    for row in evaluated.itertuples():
        assert row.value in report  # every statistic in the report comes from claims.tsv
    assert "figures/smoke/loukas2021/REPORT.md" in done.stdout + done.stderr
    nakazato_stems = _check_nakazato(tmp_path, built)
    dherin_stems = _check_dherin(tmp_path, built)
    fort_stems = _check_fort(tmp_path, built)
    atlas_stems = _check_atlas(tmp_path, built)
    # snakemake --report: one HTML file that holds every figure of figures/all with its claims
    done = snakemake("--report", "report.html", cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    html = (tmp_path / "report.html").read_text()
    pngs = [Path(p).name for p in built if p.endswith(".png")]
    assert len(pngs) == (len(stems) + len(nakazato_stems) + len(dherin_stems) + len(fort_stems)
                         + len(atlas_stems))
    assert all(name in html for name in pngs)
    # the claims' statistics are in the verdict summary, embedded as a data URI (its content is
    # checked in a browser: test_report_page.py)
    assert "figures/smoke/verdicts.html" in html and "reconstructed figure" in html


def _check_nakazato(root: Path, built: set[str]) -> list[str]:
    """nakazato2024 at smoke: its 8 figures, C1-C10 with verdicts (C9 report only), and a report
    that says up front that the paper's text was not available."""
    results, plots = root / "results" / "smoke", root / "figures" / "smoke"
    stems = ["figR01_response_factors", "figR02_factorization_check", "figR03_loss_dependence",
             "figR04_two_time_response", "figR05_feature_reduction", "figR06_fragility",
             "figR07_activation_comparison", "figX01_two_time_small_kick"]
    figures = {f"figures/smoke/nakazato2024/{stem}.{ext}"
               for stem in stems for ext in ("pdf", "png")}
    assert figures | {"figures/smoke/nakazato2024/REPORT.md"} <= built
    claims = pd.read_csv(results / "nakazato2024" / "claims.tsv", sep="\t",
                         keep_default_na=False).set_index("claim_id")
    assert list(claims.index) == [f"C{i}" for i in range(1, 11)]
    evaluated = claims.drop(index="C9")  # protocol: every claim is evaluated at smoke; C9 reports
    assert set(evaluated["passed"]) <= {"PASS", "FAIL"} and (evaluated["passed"] != "").all()
    assert claims.loc["C9", "passed"] == "" and "spearman_pr_" in claims.loc["C9", "value"]
    assert claims.loc["C7", "gating"] == "no" and claims.loc["C10", "gating"] == "no"
    report = (plots / "nakazato2024" / "REPORT.md").read_text()
    assert "was not available" in report and "To reconcile" in report
    for row in claims.itertuples():
        assert row.value in report
    return stems


def _check_dherin(root: Path, built: set[str]) -> list[str]:
    """dherin2022 at smoke: its 10 figures, C1-C10 with verdicts (C6, a suite extension, never
    gates), C11 paper scale only, every run of every sweep in the runs table, and a report that
    says the paper's body was not read."""
    results, plots = root / "results" / "smoke", root / "figures" / "smoke"
    stems = ["figR01_gc_init_depth", "figR02_l2", "figR03_spectral", "figR04_flatness",
             "figR05_explicit_gc", "figR06_noise", "figR07_learning_rate",
             "figR08_batch_size", "figR09_double_descent", "figX01_input_noise"]
    figures = {f"figures/smoke/dherin2022/{stem}.{ext}" for stem in stems for ext in ("pdf", "png")}
    assert figures | {"figures/smoke/dherin2022/REPORT.md"} <= built
    claims = pd.read_csv(results / "dherin2022" / "claims.tsv", sep="\t",
                         keep_default_na=False).set_index("claim_id")
    assert list(claims.index) == [f"C{i}" for i in range(1, 12)]
    evaluated = claims.drop(index="C11")  # docs/protocols/dherin2022.md §6: C1-C10 gate
    assert set(evaluated["passed"]) <= {"PASS", "FAIL"} and (evaluated["passed"] != "").all()
    assert claims.loc["C11", "passed"] == "" and "paper scale only" in claims.loc["C11", "reason"]
    assert claims.loc["C6", "gating"] == "no" and "suite extension" in claims.loc["C6", "source"]
    runs = pd.read_parquet(results / "dherin2022" / "tables" / "runs.parquet")
    counts = runs.groupby("experiment").size().to_dict()
    assert counts == {"e1": 54, "e2": 18, "e3": 15, "e4": 12, "e5": 12, "e6_input_noise": 15,
                      "e6_label_noise": 12, "e6_label_noise_fixed": 12, "e7": 15, "e8": 18,
                      "e9": 26}
    metrics = pd.read_parquet(results / "dherin2022" / "tables" / "metrics.parquet")
    gc = metrics[metrics["metric"] == "geometric_complexity_mean"]
    assert set(runs["run_id"]) <= set(gc["run_id"])  # the probe measured every run
    report = (plots / "dherin2022" / "REPORT.md").read_text()
    assert "was not available" in report and "To reconcile" in report
    for row in claims.itertuples():
        assert row.value in report
    return stems


def _check_fort(root: Path, built: set[str]) -> list[str]:
    """fort2019 at smoke: its 6 figures, the gating claims C1, C2, C4, C7 and the non-gating
    C3, C5, C6, C8, C9 with verdicts, C10/C11 paper scale only, C12 not built, every run
    measured at every checkpoint, and a report that says what was not built and why."""
    results, plots = root / "results" / "smoke", root / "figures" / "smoke"
    stems = ["fig03_stiffness_training", "figR01_class_stiffness_matrices",
             "figR02_cifar100_superclass", "figR03_stiffness_vs_lr",
             "figR04_stiffness_vs_distance", "figR05_xi_vs_epoch"]
    figures = {f"figures/smoke/fort2019/{stem}.{ext}" for stem in stems for ext in ("pdf", "png")}
    assert figures | {"figures/smoke/fort2019/REPORT.md"} <= built
    claims = pd.read_csv(results / "fort2019" / "claims.tsv", sep="\t",
                         keep_default_na=False).set_index("claim_id")
    assert list(claims.index) == [f"C{i}" for i in range(1, 13)]
    evaluated = claims.loc[[f"C{i}" for i in range(1, 10)]]
    assert set(evaluated["passed"]) <= {"PASS", "FAIL"} and (evaluated["passed"] != "").all()
    assert set(claims.loc[["C3", "C5", "C6", "C8", "C9"], "gating"]) == {"no"}  # non-gating
    assert (claims.loc[["C10", "C11"], "passed"] == "").all()
    assert claims.loc[["C10", "C11"], "reason"].str.contains("paper scale only").all()
    assert claims.loc["C12", "reason"].startswith("not built yet")
    runs = pd.read_parquet(results / "fort2019" / "tables" / "runs.parquet")
    assert runs.groupby("experiment").size().to_dict() == {
        "e1_fc": 1, "e1_cnn": 1, "e1_resnet20_plumbing": 1, "e1_fc_pytorch_init": 1,
        "e2_digits_fc": 4, "e3_hierarchy_fc": 1}
    metrics = pd.read_parquet(results / "fort2019" / "tables" / "metrics.parquet")
    stiffness = metrics[(metrics["metric"] == "stiffness_within_cos") & (metrics["split"] == "vv")]
    # 13 checkpoints in E1 (epochs 0 to 40), 11 in E2 (0 to 20) per run
    per_run = stiffness.groupby("run_id").size()
    assert set(per_run.index) == set(runs["run_id"])
    e2 = runs.loc[runs["experiment"] == "e2_digits_fc", "run_id"]
    assert (per_run[e2] == 11).all() and per_run[runs.loc[runs["experiment"] == "e1_fc",
                                                          "run_id"]].item() == 13
    report = (plots / "fort2019" / "REPORT.md").read_text()
    assert "was not available" in report and "Not built" in report and "MNLI" in report
    # the paper's own values, docs/protocols/fort2019.md §2b F-d
    assert report.count("Paper says (v1 full text)") == len(stems)
    for row in claims.itertuples():
        assert row.value in report
    return stems


def _check_atlas(root: Path, built: set[str]) -> list[str]:
    """The atlas study at smoke: its 3 figures and report in the manifest, no claims table, a
    report of findings without verdicts, its tidy table with a row per run, checkpoint and
    measure, and the correlations the report states."""
    results, plots = root / "results" / "smoke" / "atlas", root / "figures" / "smoke" / "atlas"
    stems = ["figX01_rank_correlations", "figX02_measures_vs_gap", "figX03_trajectories_low_high"]
    figures = {f"figures/smoke/atlas/{stem}.{ext}" for stem in stems for ext in ("pdf", "png")}
    assert figures | {"figures/smoke/atlas/REPORT.md"} <= built
    assert not (results / "claims.tsv").exists()
    report = (plots / "REPORT.md").read_text()
    assert "suite study" in report and "| PASS |" not in report and "| FAIL |" not in report
    table = pd.read_parquet(results / "tables" / "atlas.parquet")
    runs = pd.read_parquet(results / "tables" / "runs.parquet")
    assert set(table["run_id"]) == set(runs.loc[runs["status"] == "ok", "run_id"])
    assert not table.duplicated(["run_id", "step", "measure"]).any()
    assert {"sinusoid_mlp", "mnist_mlp", "mnist_cnn"} == set(table["setting"])
    correlations = pd.read_csv(plots / "correlations.tsv", sep="\t")
    assert set(correlations["setting"]) == set(table["setting"])
    return stems


GOLDEN = REPO / "tests" / "golden" / "smoke"


@pytest.mark.slow
@pytest.mark.parametrize("paper", ["loukas2021", "dherin2022", "fort2019", "nakazato2024"])
def test_smoke_claims_equal_the_golden_claims(smoke_build, paper):
    """CI's check of the science: a fresh smoke build gives the committed verdicts, and every
    statistic to 1e-6 relative (tests/workflow/golden.py). A deliberate change to the science
    updates tests/golden/smoke/<paper>/claims.tsv in the same commit."""
    from golden import differences, read_claims

    root, done = smoke_build
    assert done.returncode == 0, done.stderr[-5000:]
    found = read_claims(root / "results" / "smoke" / paper / "claims.tsv")
    expected = read_claims(GOLDEN / paper / "claims.tsv")
    assert differences(expected, found) == []
