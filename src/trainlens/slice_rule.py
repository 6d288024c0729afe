"""How one registry entry's config block shrinks for a tiny slice (``trainlens resolve --slice``).

A dataset, a model, a trainer's ``train`` block or a probe's option block declares its own
:class:`SliceRule` beside its registry entry; the slicer (``trainlens.experiments.slicing``) holds
the sizes (``SLICE_CAPS``) and applies each entry's rule. A rule names the cap of each size it
bounds, never the size itself, and a key left at its default is read from the entry's config
dataclass (a trainer's: its ``reads``), so no default is copied here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def field_default(cls: type | Mapping[str, Any] | None, key: str) -> Any:
    """The default of the dataclass field ``key`` of ``cls`` (or of a mapping of defaults, as a
    trainer's ``reads``); ``dataclasses.MISSING`` where there is no class, no such field or no
    default."""
    if cls is None:
        return dataclasses.MISSING
    if isinstance(cls, Mapping):
        return cls.get(key, dataclasses.MISSING)
    for f in dataclasses.fields(cls):
        if f.name == key:
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
            return f.default
    return dataclasses.MISSING


@dataclass(frozen=True)
class SliceRule:
    """``caps``: key -> the cap (a name in ``SLICE_CAPS``) its value is held under; ``None``
    (every point) becomes the cap, and so does 0 for the keys in ``zero_means_all``. ``clip``:
    key of a list of steps -> the cap each step is clipped to (duplicates dropped). ``fixed``:
    key -> value set outright (a slice never compiles)."""

    caps: Mapping[str, str] = field(default_factory=dict)
    zero_means_all: tuple[str, ...] = ()
    clip: Mapping[str, str] = field(default_factory=dict)
    fixed: Mapping[str, Any] = field(default_factory=dict)

    def apply(self, block: dict[str, Any], config_cls: type | Mapping[str, Any] | None,
              caps: Mapping[str, int]) -> None:
        """Shrink ``block`` in place; a key absent from it takes ``config_cls``'s default (a key
        without one stays absent)."""
        for key, cap_name in self.caps.items():
            value = block.get(key, field_default(config_cls, key))
            if value is dataclasses.MISSING:
                continue
            cap = caps[cap_name]
            all_points = value is None or (key in self.zero_means_all and value == 0)
            block[key] = cap if all_points else min(value, cap)
        for key, cap_name in self.clip.items():
            if block.get(key):
                block[key] = sorted({min(step, caps[cap_name]) for step in block[key]})
        block.update(self.fixed)
