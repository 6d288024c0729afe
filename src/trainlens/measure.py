"""The measure stage: run a group's probes on every checkpoint (design principle 3).

Training saves log-spaced checkpoints; this stage rebuilds each member's data from its seed,
loads each checkpoint and applies the probes listed in the experiment (``probes: [...]``) to each
of the probe's input sets (train/test data, or a far-field grid). A new probe therefore never
needs retraining. The table keeps the mean and max of the per-example values as metrics
``<probe>_mean``/``<probe>_max`` per (run, checkpoint, input set as ``split``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import torch

from trainlens.data.sinusoid import embed_like, far_field_inputs, latent_grid
from trainlens.io import load_checkpoint
from trainlens.members import Member, build_members, load_group_config
from trainlens.members.regularized import build_members as build_regularized_members
from trainlens.probes import PROBES, TABLE_PROBES
from trainlens.probes.regions import region_analysis
from trainlens.splits import Split
from trainlens.tables import TABLES, empty_table, write_table

# The named input sets a probe is evaluated on (``Probe.inputs``). They live here, not with the
# probes: a far-field grid is a dataset's geometry (loukas2021 §4.4, embedded with the run's own Q,
# pitfall P18), and probes import no dataset.
INPUT_SETS: dict[str, Callable[[Split], torch.Tensor]] = {
    "train": lambda split: split.x_train,
    "test": lambda split: split.x_test,
    "far_field": lambda split: far_field_inputs(split)["far_field"],
}


def _load_member(member: Member, checkpoint: dict, index: int) -> None:
    """Put member ``index``'s slice of the stacked checkpoint parameters into its model."""
    member.model.load_state_dict({k: v[index] for k, v in checkpoint["params"].items()})


def _regions(config: dict, members: list, checkpoint: dict) -> pd.DataFrame:
    """loukas2021 E2 on the final checkpoint: one row per latent grid point
    (docs/protocols/loukas2021.md §4.3)."""
    points = config["region_analysis"]["grid_points"]
    u = latent_grid(points)
    parts = []
    for index, member in enumerate(members):
        _load_member(member, checkpoint, index)
        table = region_analysis(member.model, member.split.x_train, embed_like(member.split, u))
        parts.append(table.assign(run_id=member.run_id, step=int(checkpoint["step"]),
                                  u1=u[:, 0], u2=u[:, 1]))
    return pd.concat(parts, ignore_index=True)[list(TABLES["regions"])]


def measure_group(config_path: str | Path, checkpoints_dir: str | Path, data_root: str | Path,
                  out: str | Path, regions_out: str | Path | None = None,
                  device: str = "cpu",
                  build: Callable[[dict, str | Path, torch.device], list[Member]] = build_members
                  ) -> pd.DataFrame:
    """Probe every checkpoint of the group in ``config_path``; writes the metrics part ``out``
    and, for experiments with ``region_analysis``, the regions part ``regions_out`` (an empty
    table otherwise). ``build`` makes the members of the group's trainer engine."""
    config = load_group_config(config_path)
    unknown = [p for p in config.get("probes", []) if p not in PROBES and p not in TABLE_PROBES]
    if unknown:
        raise ValueError(f"probes {unknown} unknown; allowed: {sorted([*PROBES, *TABLE_PROBES])}")
    torch_device = torch.device(device)
    members = build(config, data_root, torch_device)
    files = sorted(Path(checkpoints_dir).glob("step_*.pt"))
    if not files:
        raise FileNotFoundError(f"no checkpoints (step_*.pt) in {checkpoints_dir}")
    rows = []
    for file in files:
        checkpoint = load_checkpoint(file)
        # a checkpoint holds the members it names (a sub-ensemble's, for the regularized trainer)
        by_id = {m.run_id: m for m in members}
        for index, run_id in enumerate(checkpoint.get("run_ids") or [m.run_id for m in members]):
            member = by_id[run_id]
            _load_member(member, checkpoint, index)
            where = {"run_id": member.run_id, "step": int(checkpoint["step"]),
                     "epoch": float(checkpoint["epoch"])}
            for name in config.get("probes", []):
                if name in TABLE_PROBES:
                    rows += [{**where, **row}
                             for row in TABLE_PROBES[name](member.model, member.split, config)]
                    continue
                probe = PROBES[name]
                for split in probe.inputs:
                    x = INPUT_SETS[split](member.split)
                    values = probe.measure(member.model, x).detach().to(torch.float64)
                    for stat, value in (("mean", values.mean()), ("max", values.max())):
                        rows.append({**where, "split": split, "metric": f"{name}_{stat}",
                                     "value": float(value)})
    table = pd.DataFrame(rows, columns=list(TABLES["metrics"]))
    # explicit dtypes: a group without probes writes an empty table that must still concatenate
    table = table.astype({"step": "int64", "epoch": "float64", "value": "float64"})
    write_table(table, out, "metrics")
    if regions_out is not None:
        regions = empty_table("regions")
        if config.get("region_analysis"):
            regions = _regions(config, members, load_checkpoint(files[-1]))
        write_table(regions, regions_out, "regions")
    return table


def measure_regularized_group(config_path: str | Path, checkpoints_dir: str | Path,
                              data_root: str | Path, out: str | Path,
                              regions_out: str | Path | None = None,
                              device: str = "cpu") -> pd.DataFrame:
    """dherin2022's probes (``probes: [geometric_complexity]``) on every checkpoint of a
    ``regularized`` group, whose members are zero-padded into sub-ensembles as in training."""
    return measure_group(config_path, checkpoints_dir, data_root, out, regions_out, device,
                         build=build_regularized_members)
