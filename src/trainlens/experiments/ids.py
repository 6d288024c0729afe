"""Run and group ids (docs/design.md "Names"): ``<experiment>-<8 hex of sha256>`` of the resolved
science config (a run) or of its members' run ids (a group). Provenance is recorded beside an id,
never hashed."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any


def config_hash(science: Any) -> str:
    """8 hex digits of the sha256 of the canonical JSON of ``science``."""
    canonical = json.dumps(science, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:8]


def run_id(experiment: str, science: dict[str, Any], seed: int) -> str:
    """A run's id: its experiment and the hash of its data, model and train blocks and seed."""
    return f"{experiment}-{config_hash({**science, 'seed': seed})}"


def group_id(experiment: str, run_ids: Iterable[str]) -> str:
    """A group's id: its experiment and the hash of its members' run ids (in any order)."""
    return f"{experiment}-{config_hash(sorted(run_ids))}"
