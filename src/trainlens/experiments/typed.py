"""Typed config blocks: a YAML/JSON mapping checked against the frozen dataclass of its registry
entry. A leaf of the package (it imports nothing of trainlens but the schema messages): the
engines build their ``train`` blocks with it."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from trainlens.schema_errors import did_you_mean


class ConfigError(ValueError):
    """A malformed config: the message names the file, the key and what is allowed."""


def _type_ok(value: Any, hint: Any) -> bool:
    """Does a YAML/JSON value fit a dataclass field annotation (int, float, str, bool, tuples,
    optionals)? YAML lists stand for tuples; an int is a valid float; a bool is not an int."""
    if hint is Any:
        return True
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, arg) for arg in args)
    if hint is type(None):
        return value is None
    if origin is tuple:
        if not isinstance(value, list | tuple):
            return False
        element_hints = [args[0]] * len(value) if args[-1:] == (Ellipsis,) else list(args)
        return len(element_hints) == len(value) and all(
            _type_ok(v, h) for v, h in zip(value, element_hints))
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def make_dataclass_config(cls: type, values: dict[str, Any], where: str) -> Any:
    """Build ``cls(**values)``, naming unknown keys, wrongly typed values and the allowed ones."""
    allowed = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: "
                          f"{', '.join(sorted(allowed))}{did_you_mean(unknown[0], allowed)}")
    hints = typing.get_type_hints(cls)
    for key, value in values.items():
        if not _type_ok(value, hints[key]):
            expected = getattr(hints[key], "__name__", str(hints[key]))
            raise ConfigError(f"{where}.{key}: expected {expected}, got {value!r} "
                              f"({type(value).__name__})")
    try:
        return cls(**values)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{where}: {error}") from None
