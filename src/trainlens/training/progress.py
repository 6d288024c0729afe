"""The one progress printer of every training job."""

from __future__ import annotations

import sys
import time

from tqdm import tqdm


class Progress:
    """Progress of a loop over ``total`` steps: a tqdm bar in a terminal; in a job log (not a
    terminal) one stderr line per ~10% or every ``every_s`` seconds, with the elapsed time and
    an estimate to go (from ``first``, the units already done when it starts: a resumed job
    starts mid-way)."""

    def __init__(self, label: str, total: int, unit: str = "step", every_s: float = 30.0,
                 first: int = 0) -> None:
        self.label, self.total, self.unit, self.every_s = label, total, unit, every_s
        self._bar = tqdm(total=total, desc=label, unit=unit) if sys.stderr.isatty() else None
        self.start = self.last = time.perf_counter()
        self.next_fraction = 0.1
        self._first = first

    def update(self, done: int, detail: str = "") -> None:
        """``done`` units of ``total`` are done; ``detail`` is added to the line."""
        if self._bar is not None:
            self._bar.update(done - self._bar.n)
            return
        now = time.perf_counter()
        fraction = done / max(self.total, 1)
        if fraction >= self.next_fraction or now - self.last >= self.every_s or done == self.total:
            eta = (now - self.start) / max(done - self._first, 1) * (self.total - done)
            print(f"[{self.label}] {self.unit} {done}/{self.total}{detail}, elapsed "
                  f"{now - self.start:.0f}s, eta {eta:.0f}s", file=sys.stderr, flush=True)
            self.last = now
            while self.next_fraction <= fraction:
                self.next_fraction += 0.1

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
