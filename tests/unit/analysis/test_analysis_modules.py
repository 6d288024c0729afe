"""analysis/ is a package (trainlens.analysis_modules): a module named by its file imports as
``analysis.<slug>.<stem>``, shares its siblings, and comes from the checkout that holds the file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from trainlens.analysis_modules import load_module

REPO = Path(__file__).resolve().parents[3]


def test_a_paper_module_and_its_statistics_are_one_package():
    claims = load_module(REPO / "analysis" / "fort2019" / "claims.py")
    part = load_module(REPO / "analysis" / "fort2019" / "claims_training.py")
    stats = load_module(REPO / "analysis" / "fort2019" / "stats.py")
    assert claims.__name__ == "analysis.fort2019.claims"
    assert stats.__name__ == "analysis.fort2019.stats"
    assert part.e1_runs is stats.e1_runs  # the sibling import is the module loaded by path
    assert claims.claims is part.claims  # the parts register on one set
    assert {"C1", "C5", "C8"} <= set(claims.claims.claims)  # one claim of each part
    assert load_module(REPO / "analysis" / "fort2019" / "claims.py") is claims  # imported once


def test_the_package_comes_from_the_checkout_named(tmp_path):
    copy = tmp_path / "analysis"
    shutil.copytree(REPO / "analysis", copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "loukas2021" / "stats.py").write_text(
        (copy / "loukas2021" / "stats.py").read_text() + "\nCOPY = True\n")
    try:
        figures = load_module(copy / "loukas2021" / "figures.py")
        assert Path(figures.__file__) == copy / "loukas2021" / "figures.py"
        part = load_module(copy / "loukas2021" / "figures_mlp.py")
        assert part.traj.COPY  # the part and its statistics are the copy's, not the repository's
    finally:
        load_module(REPO / "analysis" / "loukas2021" / "figures.py")
    original = load_module(REPO / "analysis" / "loukas2021" / "figures_mlp.py")
    assert Path(original.__file__) == REPO / "analysis" / "loukas2021" / "figures_mlp.py"
    assert not hasattr(original.traj, "COPY")


def test_a_file_outside_an_analysis_folder_is_refused(tmp_path):
    stray = tmp_path / "paper" / "figures.py"
    stray.parent.mkdir()
    stray.write_text("")
    with pytest.raises(ValueError, match="analysis/<slug>/<module>.py"):
        load_module(stray)
    with pytest.raises(FileNotFoundError):
        load_module(tmp_path / "analysis" / "paper" / "claims.py")


def test_a_rooms_files_are_its_registries_parts_and_statistics(monkeypatch):
    """What the rules declare as inputs of a figure or claim job (rules/figures.smk), relative
    to the working directory as the rules run."""
    from trainlens.analysis_modules import room_files

    monkeypatch.chdir(REPO)
    files = room_files("loukas2021")
    assert {"figures.py", "figures_mlp.py", "claims.py", "claims_mlp.py", "stats.py"} <= {
        Path(f).name for f in files}
    assert files == sorted(p.relative_to(REPO).as_posix()
                           for p in (REPO / "analysis" / "loukas2021").glob("*.py"))
