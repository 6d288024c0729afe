"""Independent random streams derived from one root seed per run.

loukas2021 §4.9: "derive independent generators from the run seed for data and Q, init, shuffle
order, and the test set ... never use or reseed a global RNG". Every consumer asks for its stream by
name; adding a stream later never changes the draws of an existing one because each name maps to a
fixed child of the root ``SeedSequence`` (spawn key), not to a position in a spawn order.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import torch

# Fixed spawn keys: a stream's draws depend only on (root seed, its name).
STREAM_NAMES: tuple[str, ...] = ("data", "init", "order", "probes", "label_noise", "test", "noise",
                                 "spectral")


def _spawn_key(name: str) -> int:
    if name not in STREAM_NAMES:
        raise KeyError(f"unknown RNG stream {name!r}; known streams: {', '.join(STREAM_NAMES)}")
    return zlib.crc32(name.encode())


@dataclass(frozen=True)
class RunStreams:
    """The named random streams of one run, all children of ``root_seed``."""

    root_seed: int

    def seed_sequence(self, name: str) -> np.random.SeedSequence:
        return np.random.SeedSequence(entropy=self.root_seed, spawn_key=(_spawn_key(name),))

    def numpy(self, name: str) -> np.random.Generator:
        """A fresh NumPy generator for stream ``name`` (same draws every call)."""
        return np.random.default_rng(self.seed_sequence(name))

    def torch(self, name: str, device: str | torch.device = "cpu") -> torch.Generator:
        """A fresh torch generator for stream ``name`` (same draws every call)."""
        seed = int(self.seed_sequence(name).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
        generator = torch.Generator(device=device)
        generator.manual_seed(seed)
        return generator
