"""docs/design.md's table "A change and its one file" stays true: every registry it names is
importable under that name, and every file or folder it names exists."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# the registries a newcomer looks for first: the table must name each of them
REQUIRED = {"trainlens.data:DATASETS", "trainlens.models:MODELS", "trainlens.losses:LOSSES",
            "trainlens.probes:PROBES", "trainlens.probes:TABLE_PROBES",
            "trainlens.measure_two_layer:TWO_LAYER_PROBES", "trainlens.measure:INPUT_SETS",
            "trainlens.experiments.trainers:TRAINERS", "trainlens.tables:TABLES",
            "trainlens.plotting:FigureSet.figure", "trainlens.claims:ClaimSet.claim"}
REGISTRY = re.compile(r"^trainlens(\.\w+)*:\w+(\.\w+)*$")


def _table_cells() -> list[str]:
    """The backticked names in the rows of the table "A change and its one file"."""
    text = (REPO / "docs" / "design.md").read_text()
    section = text.split("### A change and its one file", 1)[1].split("\n\n", 2)[1]
    rows = [line for line in section.splitlines() if line.startswith("| ")][1:]  # no header
    assert len(rows) >= 10, rows
    return [cell for row in rows for cell in re.findall(r"`([^`]+)`", row)]


def test_every_registry_in_the_table_exists() -> None:
    registries = [c for c in _table_cells() if REGISTRY.match(c)]
    assert REQUIRED <= set(registries), sorted(REQUIRED - set(registries))
    for name in registries:
        module, attributes = name.split(":")
        value = importlib.import_module(module)
        for attribute in attributes.split("."):
            assert hasattr(value, attribute), f"{name}: {value!r} has no {attribute}"
            value = getattr(value, attribute)
        assert isinstance(value, dict) or callable(value), name


def test_every_path_in_the_table_exists() -> None:
    paths = [c for c in _table_cells() if "/" in c or c in ("Snakefile", "pyproject.toml")]
    assert paths
    for path in paths:
        pattern = re.sub(r"<\w+>", "*", path.split(" ")[0]).rstrip("/")
        assert list(REPO.glob(pattern)), f"docs/design.md names {path}: nothing matches {pattern}"
    assert "[tool.importlinter]" in (REPO / "pyproject.toml").read_text()
