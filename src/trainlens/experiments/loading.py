"""``experiments/<paper>.yaml`` loaded, validated and resolved at one scale.

A file names its paper, the paper's training engine (``trainer``, once; an experiment names its
own only where it differs) and its experiments: ``data``/``model``/``train``/``record`` blocks,
``seeds``, a ``grid`` of dotted keys to lists and per-scale overrides
(:mod:`trainlens.experiments.scales`). Structure is checked by JSON schema
(``experiments/schemas/experiments.schema.yaml``), the values of each block by the frozen
dataclass of its registry entry (:mod:`trainlens.experiments.resolving`). Every error is one line
that names the file and the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from trainlens.experiments.resolving import Group, resolve_experiment
from trainlens.experiments.scales import SCALES, runs_at
from trainlens.experiments.typed import ConfigError
from trainlens.schema_errors import first_error

REPO_ROOT = Path(__file__).resolve().parents[3]
SCHEMA_DIR = REPO_ROOT / "experiments" / "schemas"


def load_yaml(path: Path) -> Any:
    """The YAML document at ``path``; a missing or unparsable file is a ``ConfigError``."""
    try:
        with open(path) as handle:
            return yaml.safe_load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None


def validate_schema(document: Any, schema_name: str, where: str) -> None:
    """Validate against ``experiments/schemas/<schema_name>``; the error names the key path."""
    problem = first_error(document, load_yaml(SCHEMA_DIR / schema_name))
    if problem:
        raise ConfigError(f"{where}: {problem}")


def experiment_trainer(document: dict[str, Any], name: str, where: str) -> str:
    """The engine of experiment ``name``: its own ``trainer`` where it differs from the paper's,
    else the paper's. Repeating the paper's engine is refused, so that it is named once."""
    paper_trainer = document["trainer"]
    own = document["experiments"][name].get("trainer")
    if own == paper_trainer:
        raise ConfigError(f"{where}: experiments.{name}.trainer {own!r} repeats the paper's "
                          f"trainer; name an experiment's trainer only where it differs")
    return own or paper_trainer


def load_experiments(path: str | Path, scale: str) -> list[Group]:
    """Validate ``path`` and resolve all of its experiments at ``scale``."""
    path = Path(path)
    if scale not in SCALES:
        raise ConfigError(f"scale {scale!r} unknown; allowed: {list(SCALES)}")
    document = load_yaml(path)
    validate_schema(document, "experiments.schema.yaml", str(path))
    groups = []
    for name, spec in document["experiments"].items():
        trainer = experiment_trainer(document, name, str(path))
        for other in SCALES:  # resolve every scale: a paper-scale typo fails at smoke too
            resolved = resolve_experiment(document["paper"], name, spec, other,
                                          f"{path}: experiments.{name} ({other} scale)", trainer)
            # ``scales``: an experiment of the protocol's full tier only (nakazato2024 E4 extras)
            groups += resolved if other == scale and runs_at(spec, scale) else []
    return groups
