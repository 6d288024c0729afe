"""The measure stage: run a group's probes on every checkpoint (design principle 3).

Training saves log-spaced checkpoints; this stage rebuilds each run's data and model from its
seed (:mod:`trainlens.measure.members`, whichever the trainer), loads each checkpoint and applies
the probes the experiment lists (``probes: [...]``, names of ``trainlens.probes.PROBES``) to the
input sets each asks for (:mod:`trainlens.measure.inputs`). A new probe therefore never needs
retraining. Rows go to the probe's table, with run id, step and epoch added: the long
``metrics`` table, or an extra table (loukas2021's ``regions``) written where the caller asks
(``tables``), or an empty one when no probe of the group writes it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from trainlens.io import load_checkpoint
from trainlens.measure.inputs import INPUT_SETS, RunInputs
from trainlens.measure.members import RUNS
from trainlens.members import build_members, load_group_config
from trainlens.probes import PROBES, Options, Probe
from trainlens.probes.base import Rows
from trainlens.splits import Split
from trainlens.tables import PANDAS_DTYPES, TABLES, empty_table, write_table

__all__ = ["INPUT_SETS", "PROBES", "build_members", "measure_group", "run_probe",
           "selected_probes"]


def selected_probes(config: Mapping[str, Any]) -> list[tuple[str, Probe, Any]]:
    """(name, probe, settings) of every probe the group runs: those listed in ``probes`` and
    those whose settings block turns them on (``Probe.block_enables``)."""
    names = list(config.get("probes") or [])
    unknown = [p for p in names if p not in PROBES]
    if unknown:
        raise ValueError(f"probes {unknown} unknown; allowed: {sorted(PROBES)}")
    names += [n for n, p in PROBES.items()
              if p.block_enables and config.get(p.block) and n not in names]
    return [(n, PROBES[n], PROBES[n].options_of(config)) for n in names]


def run_probe(name: str, model: nn.Module, split: Split, config: Mapping[str, Any],
              loss: str | None = None, seed: int = 0) -> Rows:
    """Probe ``name`` on one model, with its input sets built from ``split`` and its settings
    from the group ``config``: what the stage does for one run at one checkpoint."""
    probe = PROBES[name]
    settings = probe.options_of(config)
    return probe.measure(model, RunInputs(split).for_probe(probe, settings),
                         Options(settings, loss, seed))


def _tagged(rows: Rows, where: dict[str, Any], table: str) -> Rows:
    """The rows with the run's coordinates that ``table`` has (run id, step, epoch)."""
    where = {k: v for k, v in where.items() if k in TABLES[table]}
    if isinstance(rows, pd.DataFrame):
        return rows.assign(**where)
    return [{**where, **row} for row in rows]


def _frame(table: str, parts: list[Rows]) -> pd.DataFrame:
    """One table from the probes' parts, with the schema's columns and numeric dtypes (an empty
    table still concatenates)."""
    columns = list(TABLES[table])
    if not parts:
        return empty_table(table)
    if all(isinstance(part, list) for part in parts):
        frame = pd.DataFrame([row for part in parts for row in part], columns=columns)
        return frame.astype({c: PANDAS_DTYPES[k] for c, k in TABLES[table].items()
                             if k in ("int", "float")})
    frames = [p if isinstance(p, pd.DataFrame) else pd.DataFrame(p, columns=columns)
              for p in parts]
    return pd.concat(frames, ignore_index=True)[columns]


def measure_group(config_path: str | Path, checkpoints_dir: str | Path, data_root: str | Path,
                  out: str | Path, tables: Mapping[str, str | Path] | None = None,
                  device: str = "cpu") -> pd.DataFrame:
    """Probe every checkpoint of the group in ``config_path``; writes the ``metrics`` rows to
    ``out`` and each extra table ``name`` to ``tables[name]``. A probe whose extra table is not
    asked for does not run. Returns the metrics table."""
    config = load_group_config(config_path)
    tables = dict(tables or {})
    unknown = sorted(set(tables) - set(TABLES))
    if unknown:
        raise ValueError(f"tables {unknown} unknown; allowed: {sorted(TABLES)}")
    probes = [p for p in selected_probes(config) if p[1].table in {"metrics", *tables}]
    runs = RUNS[config.get("trainer", "ensemble")](config, data_root, torch.device(device))
    files = sorted(Path(checkpoints_dir).glob("step_*.pt"))
    if not files:
        raise FileNotFoundError(f"no checkpoints (step_*.pt) in {checkpoints_dir}")
    parts: dict[str, list[Rows]] = defaultdict(list)
    by_id = {run.run_id: run for run in runs}
    for file in files:
        checkpoint = load_checkpoint(file)
        now = [p for p in probes if file == files[-1] or not p[1].last_checkpoint_only]
        # a checkpoint holds the runs it names (a sub-ensemble's, for the regularized trainer)
        for index, run_id in enumerate(checkpoint.get("run_ids") or list(by_id)):
            run = by_id[run_id]
            if not now or not run.load(checkpoint["params"], index):
                continue
            where = {"run_id": run_id, "step": int(checkpoint["step"]),
                     "epoch": float(checkpoint["epoch"])}
            for _, probe, settings in now:
                rows = probe.measure(run.model, run.inputs.for_probe(probe, settings),
                                     Options(settings, run.loss, run.seed))
                parts[probe.table].append(_tagged(rows, where, probe.table))
    metrics = _frame("metrics", parts["metrics"])
    write_table(metrics, out, "metrics")
    for name, path in tables.items():
        write_table(_frame(name, parts[name]), path, name)
    return metrics
