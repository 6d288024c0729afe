"""Load a paper's ``analysis/<slug>/*.py`` module from its file (a leaf).

The command line, the notebook helper and the workflow (rules/common.smk) all load the figure and
claim registries this way; it has its own room so that none of them imports another for it (the
command line is the top layer of pyproject.toml's import contracts). ``trainlens.cli.load_module``
stays as a name for the analysis modules and tests that import it from there.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def load_module(path: str | Path) -> ModuleType:
    """Import ``analysis/<slug>/figures.py`` or ``claims.py`` from its path (rules pass files)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"analysis module {path} not found")
    name = f"trainlens_analysis_{path.parent.name}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
