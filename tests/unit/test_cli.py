"""The trainlens command: --help everywhere, and `trainlens list` on an unbuilt workflow."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from trainlens.cli import main, parser

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


def test_list_shows_every_figure_and_claim_of_an_unbuilt_workflow(tmp_path, capsys):
    for name in ("experiments", "analysis"):
        shutil.copytree(REPO / name, tmp_path / name)
    assert main(["list", "--root", str(tmp_path), "--scale", "smoke"]) == 0
    out = capsys.readouterr().out
    assert "loukas2021" in out and "e1a" in out and "12 run(s)" in out
    assert "figR01_mlp_trajectory" in out and "built (" not in out.replace("not built (", "")
    assert "claims (not checked yet)" in out
    for claim in range(1, 13):
        assert f"    C{claim} " in out


def test_resolve_slice_shrinks_sizes_but_keeps_members_and_models(tmp_path, capsys):
    import json

    from trainlens.config import load_experiments

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

    from trainlens.config import load_experiments

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
