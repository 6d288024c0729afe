"""Column names and dtypes of every table, and validated, atomic read/write (docs/design.md
"Tables").

Figures and claim checks read these tables only. A table with a missing column or a wrong dtype
fails on write and on read with a message naming the table, the column and the expected dtype.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from trainlens.io import atomic_write

# Required columns and pandas dtype kinds (i: integer, f: float, O/string: text, b: bool).
TABLES: dict[str, dict[str, str]] = {
    "runs": {
        "run_id": "text", "paper": "text", "experiment": "text", "group_id": "text",
        "seed": "int", "status": "text", "diverged_step": "float", "wall_time_s": "float",
        "device": "text", "git_commit": "text",
    },
    "metrics": {
        "run_id": "text", "step": "int", "epoch": "float", "split": "text", "metric": "text",
        "value": "float",
    },
    # loukas2021 E2: one row per grid point of the latent plane (docs/protocols/loukas2021.md §4.3)
    "regions": {
        "run_id": "text", "step": "int", "u1": "float", "u2": "float", "region": "int",
        "in_training_region": "bool", "lipschitz": "float", "output": "float",
        "lp_bound": "float", "alpha_nonzeros": "int",
    },
    "claims": {
        "paper": "text", "claim_id": "text", "figure": "text", "source": "text",
        "statement": "text", "statistic": "text", "value": "text", "threshold": "text",
        "scale": "text", "passed": "text", "gating": "text", "n_runs": "int", "reason": "text",
        "known_cause": "text", "git_commit": "text",
    },
}
STATUSES = ("ok", "diverged", "failed")
PANDAS_DTYPES = {"text": "object", "int": "int64", "float": "float64", "bool": "bool"}


def empty_table(table: str) -> pd.DataFrame:
    """A table with no rows but the right columns and dtypes (so that it concatenates)."""
    spec = TABLES[table]
    return pd.DataFrame(columns=list(spec)).astype({c: PANDAS_DTYPES[k] for c, k in spec.items()})


def _kind_ok(series: pd.Series, kind: str) -> bool:
    if kind == "int":
        return pd.api.types.is_integer_dtype(series)
    if kind == "bool":
        return pd.api.types.is_bool_dtype(series)
    if kind == "float":
        return pd.api.types.is_float_dtype(series) or pd.api.types.is_integer_dtype(series)
    return pd.api.types.is_string_dtype(series) or pd.api.types.is_object_dtype(series)


def validate(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Check that ``frame`` has the required columns of ``table`` with the right dtypes."""
    spec = TABLES[table]
    missing = [c for c in spec if c not in frame.columns]
    if missing:
        raise ValueError(f"table {table!r} is missing column(s) {missing}; "
                         f"has {list(frame.columns)}")
    for column, kind in spec.items():
        if len(frame) and not _kind_ok(frame[column], kind):
            raise ValueError(f"table {table!r} column {column!r} has dtype {frame[column].dtype}, "
                             f"expected {kind}")
    if table == "runs" and len(frame):
        bad = sorted(set(frame["status"]) - set(STATUSES))
        if bad:
            raise ValueError(f"table 'runs' has unknown status {bad}; allowed: {list(STATUSES)}")
    return frame


def write_table(frame: pd.DataFrame, path: str | Path, table: str) -> Path:
    """Validate and write atomically; .parquet or .tsv by suffix."""
    validate(frame, table)
    path = Path(path)
    if path.suffix == ".tsv":
        return atomic_write(path, lambda tmp: frame.to_csv(tmp, sep="\t", index=False))
    return atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))


def read_table(path: str | Path, table: str) -> pd.DataFrame:
    """Read and validate one table; a missing or damaged file names itself and the fix."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"table {table!r} not found at {path}; build it with snakemake")
    try:
        if path.suffix == ".tsv":
            # claims.tsv uses empty cells for "no verdict"; the numeric tables use them for NaN.
            frame = pd.read_csv(path, sep="\t", keep_default_na=table != "claims")
        else:
            frame = pd.read_parquet(path)
    except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid and pandas' ParserError too
        detail = (str(error).strip().splitlines() or [""])[0]
        raise ValueError(f"{path}: damaged {table!r} table ({detail}); delete it and rerun "
                         "snakemake, which rebuilds it") from None
    return validate(frame, table)


def concat_tables(paths: list[str | Path], table: str) -> pd.DataFrame:
    """Read and concatenate the per-job parts of one table."""
    frames = [read_table(p, table) for p in paths]
    # an empty part (a group without probes) carries no dtypes worth keeping
    frames = [f for f in frames if len(f)] or frames[:1]
    return validate(pd.concat(frames, ignore_index=True), table)
