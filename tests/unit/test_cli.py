"""The trainlens command: help on every option, --version, and `trainlens list` (what it reads
from the files equals what the workflow imports; it marks gating claims and failed criteria)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from trainlens.cli import main, parser
from trainlens.experiments.scales import SCALES

REPO = Path(__file__).resolve().parents[2]
SUBCOMMANDS = sorted(parser()._subparsers._group_actions[0].choices)


@pytest.mark.parametrize("subcommand", [None, *SUBCOMMANDS])
def test_help_everywhere(subcommand, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--help"] if subcommand is None else [subcommand, "--help"])
    assert stop.value.code == 0
    assert "usage: trainlens" in capsys.readouterr().out


def test_every_rule_job_has_a_subcommand():
    rules = "".join(p.read_text() for p in (REPO / "rules").glob("*.smk"))
    used = {line.split("trainlens ", 1)[1].split()[0] for line in rules.splitlines()
            if '"trainlens ' in line}
    assert used and used <= set(SUBCOMMANDS)


def _workflow_copy(root: Path) -> Path:
    """The files `trainlens list` reads, copied under ``root``."""
    for name in ("experiments", "analysis"):
        shutil.copytree(REPO / name, root / name)
    shutil.copy(REPO / "Snakefile", root / "Snakefile")
    return root


def test_every_option_has_help_text():
    for name, subparser in parser()._subparsers._group_actions[0].choices.items():
        for action in subparser._actions:
            assert action.help, f"trainlens {name} {action.option_strings or action.dest}"


def test_version_is_the_package_version(capsys):
    import tomllib

    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert stop.value.code == 0 and capsys.readouterr().out == f"trainlens {version}\n"


def test_list_shows_every_figure_and_claim_of_an_unbuilt_workflow(tmp_path, capsys):
    root = _workflow_copy(tmp_path)
    assert main(["list", "--root", str(root), "--scale", "smoke"]) == 0
    out = capsys.readouterr().out
    assert "loukas2021" in out and "e1a" in out and "12 run(s)" in out
    assert "figR01_mlp_trajectory" in out and "built (" not in out.replace("not built (", "")
    assert "claims (not checked yet): " + " ".join(f"C{n}" for n in range(1, 13)) in out


CLAIMS = [  # claims.tsv rows written by hand: (id, threshold, passed, value, reason)
    ("C1", "rho >= 0.5; monotone == True", "FAIL", "rho=0.2; monotone=True",
     "failed: rho >= 0.5; 1 diverged/failed run(s) excluded"),
    ("C2", "share >= 0.8 (non-gating)", "FAIL", "share=0.25",
     "failed: share >= 0.8 (non-gating)"),
    ("C3", "gap <= 0.1; slope >= 1.0 (non-gating)", "PASS", "gap=0.05; slope=1.5", ""),
    ("C10", "", "", "ratio=3", "paper scale only: the smoke grid has two widths, so the "
                              "interpolation threshold cannot be located"),
]


def test_list_marks_gating_claims_and_the_failed_criterion_without_cutting_words(tmp_path,
                                                                                 capsys):
    import csv

    from trainlens.tables import TABLES

    root = _workflow_copy(tmp_path)
    (root / "results" / "smoke" / "loukas2021").mkdir(parents=True)
    with open(root / "results" / "smoke" / "loukas2021" / "claims.tsv", "w",
              newline="") as handle:
        writer = csv.DictWriter(handle, list(TABLES["claims"]), delimiter="\t")
        writer.writeheader()
        for claim_id, threshold, passed, value, reason in CLAIMS:
            writer.writerow({**dict.fromkeys(TABLES["claims"], ""), "paper": "loukas2021",
                             "claim_id": claim_id, "threshold": threshold, "passed": passed,
                             "value": value, "reason": reason, "scale": "smoke", "n_runs": 3})
    from trainlens.listing import listing

    out = listing(root, "smoke", width=60)
    section = out.split("loukas2021:")[1].split("nakazato2024:")[0]
    lines = section[section.index("  claims ("):].splitlines()
    assert "* = gating" in lines[0] and all(len(line) <= 60 for line in lines)
    text = " ".join(line.strip() for line in lines)  # wrapped lines joined again
    assert "C1  * FAIL" in text and "failed: rho >= 0.5 (observed 0.2)" in text
    assert "1 diverged/failed run(s) excluded" in text
    assert "C2    FAIL" in text and "share >= 0.8 (non-gating) (observed 0.25)" in text
    assert "C3  * PASS" in text and "gap <= 0.1 (observed 0.05)" in text
    assert "C10   not evaluated" in text and CLAIMS[3][4] in text  # every word whole
    assert "C4    -" in text  # declared, absent from the table: not checked yet


def test_list_works_from_any_folder_inside_the_repository(tmp_path, monkeypatch, capsys):
    root = _workflow_copy(tmp_path / "repo")
    monkeypatch.chdir(root / "analysis" / "loukas2021")
    assert main(["list", "--scale", "smoke"]) == 0
    assert "loukas2021: " in capsys.readouterr().out
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert main(["list"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not inside a trainlens repository" in err and "--root" in err


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("paper", ["loukas2021", "dherin2022", "fort2019", "nakazato2024"])
def test_list_counts_and_names_equal_the_registries(paper, scale):
    """What `trainlens list` reads from the files equals what the workflow imports."""
    import yaml

    from trainlens.cli import load_module
    from trainlens.experiments.loading import load_experiments
    from trainlens.listing import declared_claims, declared_figures, experiment_size

    document = yaml.safe_load((REPO / "experiments" / f"{paper}.yaml").read_text())
    groups = load_experiments(REPO / "experiments" / f"{paper}.yaml", scale)
    for name, spec in document["experiments"].items():
        mine = [g for g in groups if g.experiment == name]
        assert experiment_size(spec, scale) == (len(mine), sum(len(g.run_ids) for g in mine))
    figures = load_module(REPO / "analysis" / paper / "figures.py").figures.figures
    claims = load_module(REPO / "analysis" / paper / "claims.py").claims.claims
    assert declared_figures(REPO, paper) == list(figures)
    assert set(declared_claims(REPO, paper)) == set(claims)


def test_list_imports_neither_torch_nor_pandas():
    code = ("import sys; from trainlens.cli import main; main(['list']); "
            "print(sorted(m for m in ('torch', 'pandas', 'matplotlib', 'scipy', 'jsonschema') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, check=True)
    assert result.stdout.splitlines()[-1] == "[]"


def test_resolve_slice_shrinks_sizes_but_keeps_members_and_models(tmp_path, capsys):
    import json

    from trainlens.experiments.loading import load_experiments

    experiments = Path(__file__).parents[2] / "experiments" / "loukas2021.yaml"
    (group,) = [g for g in load_experiments(experiments, "paper") if g.experiment == "e1b"]
    out = tmp_path / "config.json"
    args = ["resolve", "--experiments", str(experiments), "--scale", "paper", "--group",
            group.group_id, "--out", str(out)]
    assert main([*args, "--slice", "--checksums", "sums.json"]) == 0
    sliced = json.loads(out.read_text())
    assert sliced["slice"] is True and sliced["model"] == group.config["model"]
    assert len(sliced["members"]) == len(group.config["members"]) == 32  # E1b: 4 p x 8 seeds
    assert sliced["train"]["epochs"] == 1 and sliced["train"]["compile"] is False
    assert sliced["train"]["lr_decay_per_epoch"] == group.config["train"]["lr_decay_per_epoch"]
    data = sliced["members"][0]["data"]
    assert (data["n_train_per_class"], data["n_test_per_class"]) == (4, 2)
    assert data["checksums_file"] == "sums.json"
    # replacing torchvision's checksums outside a slice is refused, with the reason
    assert main([*args, "--checksums", "sums.json"]) == 2
    assert "only with --slice" in capsys.readouterr().err


def test_resolve_writes_each_group_to_its_own_file(tmp_path, capsys):
    import json

    from trainlens.experiments.loading import load_experiments

    experiments = Path(__file__).parents[2] / "experiments" / "nakazato2024.yaml"
    groups = load_experiments(experiments, "smoke")[:2]
    outs = [str(tmp_path / g.group_id / "config.json") for g in groups]
    args = ["resolve", "--experiments", str(experiments), "--scale", "smoke", "--group",
            *[g.group_id for g in groups], "--out"]
    assert main([*args, *outs]) == 0
    for group, out in zip(groups, outs):
        assert json.loads(Path(out).read_text()) == group.config
    # one output file per group, or a one-line error naming both counts
    assert main([*args, outs[0]]) == 2
    assert "--group names 2 group(s) but --out 1 file(s)" in capsys.readouterr().err
