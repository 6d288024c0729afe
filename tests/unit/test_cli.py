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
