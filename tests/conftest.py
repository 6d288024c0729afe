"""Shared fixtures: small E1a-style members built exactly as the training job builds them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from trainlens.experiments.loading import load_experiments

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)  # the tests' tiny matrices are fastest, and stable, on one thread


@pytest.fixture
def e1a_smoke_config() -> dict:
    """The resolved smoke E1a group config (12 members), as ``trainlens resolve`` writes it."""
    (group,) = [g for g in load_experiments(REPO / "experiments" / "loukas2021.yaml", "smoke")
                if g.experiment == "e1a"]
    return group.config
