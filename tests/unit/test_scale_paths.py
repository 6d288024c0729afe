"""Outputs say their scale: every figure's visible title names it, and ``trainlens list --scale X``
reads only scale X's own folders (results/X/, figures/X/), never another build's."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from trainlens.cli import main
from trainlens.plotting import save_figure
from trainlens.tables import TABLES

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("scale", "tiny_slice"), [("smoke", False), ("paper", False),
                                                   ("paper", True)])
def test_every_figure_title_names_its_scale(tmp_path, scale, tiny_slice):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    save_figure(fig, tmp_path / "f.pdf", tmp_path / "f.png", "figR01_x", "caption", scale,
                "abc", tiny_slice)
    title = fig._suptitle.get_text()  # the title drawn into both files
    assert "figR01_x" in title and f"{scale} scale" in title
    assert ("SLICE" in title) == tiny_slice
    others = {"smoke", "cpu", "paper"} - {scale}
    assert not any(f"{other} scale" in title for other in others)
    assert (tmp_path / "f.png").stat().st_size > 0 and (tmp_path / "f.pdf").stat().st_size > 0


def _claims_row(paper: str, claim_id: str, value: str, scale: str) -> dict:
    row = dict.fromkeys(TABLES["claims"], "")
    return {**row, "paper": paper, "claim_id": claim_id, "value": value, "scale": scale,
            "passed": "PASS", "gating": "PASS", "n_runs": 3}


def test_list_reads_only_the_scale_asked_for(tmp_path, capsys):
    for name in ("experiments", "analysis"):
        shutil.copytree(REPO / name, tmp_path / name)
    shutil.copy(REPO / "Snakefile", tmp_path / "Snakefile")  # what marks a workflow folder
    # a smoke build of nakazato2024: its claims table and one figure, nothing at paper scale
    smoke = tmp_path / "results" / "smoke" / "nakazato2024"
    smoke.mkdir(parents=True)
    pd.DataFrame([_claims_row("nakazato2024", "C1", "smoke_statistic=0.123", "smoke")]).to_csv(
        smoke / "claims.tsv", sep="\t", index=False)
    figure = tmp_path / "figures" / "smoke" / "nakazato2024" / "figR01_response_factors.png"
    figure.parent.mkdir(parents=True)
    figure.write_bytes(b"png")

    assert main(["list", "--root", str(tmp_path), "--scale", "smoke"]) == 0
    out = capsys.readouterr().out
    nakazato = out[out.index("nakazato2024:"):]
    assert "claims (checked at smoke scale" in nakazato and re.search(r"C1 +PASS", nakazato)
    assert re.search(r"figR01_response_factors +built", out)

    assert main(["list", "--root", str(tmp_path), "--scale", "paper"]) == 0
    out = capsys.readouterr().out
    nakazato = out[out.index("nakazato2024:"):]
    assert "PASS" not in out
    assert "claims (not checked yet)" in nakazato
    assert re.search(r"figR01_response_factors +not built", nakazato)
