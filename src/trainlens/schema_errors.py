"""One-line messages for JSON-schema errors: the key, the bad value, the allowed values and a
"did you mean" (issue 28, item 4).

The schemas under ``experiments/schemas/`` stay the only source of the allowed values: an enum
lists them, a free-form string gives them as the schema's standard ``examples`` annotation (the
device pattern ``^(cpu|cuda(:[0-9]+)?)$`` reads ``cpu, cuda, cuda:N``), an object lists its
``properties``. Nothing here names a scale, a paper or a device.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when a document is checked: `trainlens list` never needs it
    import jsonschema

JSON_TYPES = {"string": "a string", "boolean": "True or False", "integer": "an integer",
              "number": "a number", "array": "a list", "object": "a mapping"}


def did_you_mean(word: Any, allowed: Iterable[Any]) -> str:
    """``"; did you mean 'scale'?"`` when one allowed value is close to ``word``, else ``""``."""
    names = [str(a) for a in allowed]
    close = difflib.get_close_matches(str(word), names, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _key(error: jsonschema.ValidationError) -> str:
    """Dotted key path; list positions are dropped (``papers.0`` is reported as ``papers``)."""
    return ".".join(str(p) for p in error.absolute_path if not isinstance(p, int))


def _allowed(schema: dict[str, Any]) -> list[Any] | None:
    """The values a (sub)schema allows, as written in the schema: enum, else examples."""
    return schema.get("enum") or schema.get("examples")


def describe(error: jsonschema.ValidationError) -> str:
    """One line naming the key, the bad value, the allowed values and a close match."""
    key, value, kind = _key(error), error.instance, error.validator
    where = f"key '{key}'" if key else "top level"
    if kind == "additionalProperties" and error.validator_value is False:
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(k for k in value if k not in allowed)
        prefix = f"{key}." if key else ""
        return (f"unknown key '{prefix}{unknown[0]}' (set to {value[unknown[0]]!r}); allowed keys"
                f"{' of ' + key if key else ''}: {', '.join(allowed)}"
                f"{did_you_mean(unknown[0], allowed)}")
    allowed = _allowed(error.schema)
    if kind in ("enum", "pattern") and allowed:
        return (f"{where}: {value!r} is not allowed; allowed: {', '.join(map(str, allowed))}"
                f"{did_you_mean(value, allowed)}")
    if kind == "type":
        expected = error.validator_value
        names = [expected] if isinstance(expected, str) else expected
        text = " or ".join(JSON_TYPES.get(n, n) for n in names)
        hint = " (on the command line write True/False: Snakemake reads 'true' as text)" \
            if "boolean" in names and isinstance(value, str) else ""
        return f"{where}: {value!r} is not {text}{hint}"
    if kind == "required":
        return f"{where}: {error.message}"
    return f"{where}: {value!r}: {error.message}"


def first_error(document: Any, schema: dict[str, Any]) -> str | None:
    """The one-line message of the first schema error of ``document`` (by key path), or None.
    Several errors are reported one at a time: fixing one shows the next."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.path])
    return describe(errors[0]) if errors else None


def config_problem(config: dict[str, Any], schema_path: str) -> str | None:
    """The one-line complaint about the workflow config (``--config`` merged into
    ``experiments/config.yaml``), or None when it is valid. Read by rules/common.smk, which
    stops the workflow with it before Snakemake's own validation prints the schema."""
    import yaml

    with open(schema_path) as handle:
        schema = yaml.safe_load(handle)
    problem = first_error(config, schema)
    return None if problem is None else f"trainlens: bad --config or experiments/config.yaml: " \
                                         f"{problem}"
