"""The named input sets probes run on (``Probe.inputs``), built here from a run's data.

They live with the measure stage, not with the probes: a far-field grid is a dataset's geometry
(loukas2021 §4.4, embedded with the run's own Q, pitfall P18), and probes import no dataset. A
builder takes the run's :class:`~trainlens.splits.Split` and the settings of the probe that asks
for the set (its experiment block as a dataclass, or None); each set is built once per run and
settings, and shared by every checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from trainlens.data.sinusoid import embed_like, far_field_inputs, latent_grid
from trainlens.probes import InputSet, Probe
from trainlens.splits import Split


def probe_indices(labels: torch.Tensor, per_class: int, seed: int) -> np.ndarray:
    """``per_class`` indices of each class (all of a smaller class), drawn once from ``seed``."""
    y = labels.cpu().numpy()
    order = np.random.default_rng(seed).permutation(len(y))
    chosen = [order[y[order] == c][:per_class] for c in np.unique(y)]
    return np.sort(np.concatenate(chosen))


def _stratified(x: torch.Tensor, y: torch.Tensor, per_class: int, seed: int,
                split: Split) -> InputSet:
    index = probe_indices(y, per_class, seed)
    return InputSet(x[index], y[index], split.extras)


def _latent_grid(split: Split, settings: Any) -> InputSet:
    """``grid_points``² points of the latent plane [-1, 1]², embedded with the run's own Q; the
    latent coordinates travel as ``extras["u"]`` (loukas2021 §4.3)."""
    u = latent_grid(settings.grid_points)
    return InputSet(embed_like(split, u), extras={"u": u})


# input set name -> (the run's data, the asking probe's settings) -> the set
INPUT_SETS: dict[str, Callable[[Split, Any], InputSet]] = {
    "train": lambda split, settings: InputSet(split.x_train, split.y_train, split.extras),
    "test": lambda split, settings: InputSet(split.x_test, split.y_test, split.extras),
    "far_field": lambda split, settings: InputSet(far_field_inputs(split)["far_field"]),
    "latent_grid": _latent_grid,
    # fort2019's fixed class-stratified probe sets (docs/protocols/fort2019.md §7 pitfall 9):
    # ``train_per_class``/``val_per_class`` examples per class drawn with ``probe_seed`` (+1 for
    # the test set), not the run seed, so every checkpoint and run sees the same examples
    "class_probe_train": lambda split, s: _stratified(split.x_train, split.y_train,
                                                      s.train_per_class, s.probe_seed, split),
    "class_probe_test": lambda split, s: _stratified(split.x_test, split.y_test,
                                                     s.val_per_class, s.probe_seed + 1, split),
}


class RunInputs:
    """One run's input sets, each built on first use and kept for every checkpoint."""

    def __init__(self, split: Split) -> None:
        self.split = split
        self._built: dict[tuple[str, str], InputSet] = {}

    def for_probe(self, probe: Probe, settings: Any) -> dict[str, InputSet]:
        """The sets ``probe`` reads, by name, in its order."""
        sets = {}
        for name in probe.inputs:
            key = (name, repr(settings))  # equal settings, the same set
            if key not in self._built:
                self._built[key] = INPUT_SETS[name](self.split, settings)
            sets[name] = self._built[key]
        return sets
