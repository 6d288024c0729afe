"""Import a paper's ``analysis/<slug>/<module>.py`` as ``analysis.<slug>.<module>`` (a leaf).

The command line, the notebook helper and the workflow (rules/common.smk) name these modules by
their files: the rules pass ``analysis/<slug>/figures.py`` and declare the room's modules
(:func:`room_files`) as inputs, so that a change to any of them reruns its jobs. ``analysis/`` is a
package of the repository, not of the installed trainlens, and :func:`load_module` imports it from
the folder of the file it is given: the package is bound to that checkout (what runs is always the
file the rule names, whether trainlens is installed editable or not, and whatever the working
directory), and a paper's modules import their siblings as ``analysis.<slug>.stats``. ``sys.path``
is left alone: no other folder that happens to hold an ``analysis`` package can shadow the
checkout's. Loading from another checkout in the same process (a notebook pointed at a second
clone, tests with a copy) re-binds the package to it. It has its own room so that none of its
callers imports another for it (the command line is the top layer of pyproject.toml's import
contracts); ``trainlens.cli.load_module`` stays as a name for the tests that import it from there.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

PACKAGE = "analysis"


def load_module(path: str | Path) -> ModuleType:
    """Import ``analysis/<slug>/<stem>.py`` (``figures.py``, ``claims.py``, ``stats.py``, ...)
    as ``analysis.<slug>.<stem>``, from the checkout that holds ``path``."""
    path = Path(path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"analysis module {path} not found")
    folder = path.parent.parent
    if folder.name != PACKAGE or path.suffix != ".py":
        raise ValueError(f"{path} is not an analysis/<slug>/<module>.py file")
    _bind_package(folder)
    name = f"{PACKAGE}.{path.parent.name}"
    return importlib.import_module(name if path.stem == "__init__" else f"{name}.{path.stem}")


def room_files(slug: str, root: str | Path = ".") -> list[str]:
    """The modules of the room ``analysis/<slug>/`` under ``root``: the rules declare them as
    inputs of every job that loads the room's registry, which imports its parts and the paper's
    statistics, so that editing any of them reruns the job."""
    return sorted(str(p) for p in (Path(root) / PACKAGE / slug).glob("*.py"))


def _bind_package(folder: Path) -> None:
    """Make ``analysis`` the package in ``folder``: imported from there once, and imported anew
    (its submodules forgotten) when a module of another folder is asked for."""
    current = sys.modules.get(PACKAGE)
    if current is not None and [Path(p).resolve() for p in current.__path__] == [folder]:
        return
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
        del sys.modules[name]
    init = folder / "__init__.py"
    if init.is_file():
        spec = importlib.util.spec_from_file_location(PACKAGE, init,
                                                      submodule_search_locations=[str(folder)])
    else:  # a folder without __init__.py (a bare workflow folder) imports as a namespace package
        spec = importlib.machinery.ModuleSpec(PACKAGE, None, is_package=True)
        spec.submodule_search_locations = [str(folder)]
    package = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = package
    if spec.loader is not None:
        spec.loader.exec_module(package)
    importlib.invalidate_caches()  # a folder written after the last import (a test's copy)
