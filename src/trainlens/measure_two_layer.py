"""The measure stage for nakazato2024 groups (``trainer: two_layer``): probes on checkpoints.

Each member's data is rebuilt from its seed; each checkpoint (a probe time t) is probed with the
experiment's ``probes``, all closed forms of the two-layer network in float64:
``response`` (Ā, ē, Θ, K̂ and the other normalisations, docs/protocols/nakazato2024.md §4.2-4.3),
``feature_space``
(§4.5), ``fragility`` (§4.6) and ``factorization`` (E2, §6 C5: finite-step vs first-order R at
each η_p, with the relative error as split ``eta_p=<η_p>`` and, at ETA_SCATTER, every pair as
split ``pair=<i>,<j>``). Rows go to the long metrics table with split ``train``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from trainlens.io import load_checkpoint
from trainlens.members.two_layer import member_blocks, member_data
from trainlens.probes.feature_space import feature_space
from trainlens.probes.fragility import fragility
from trainlens.probes.response import (
    finite_step_response,
    first_order_response,
    relative_error,
    response_factors,
)
from trainlens.seeds import RunStreams
from trainlens.tables import TABLES, empty_table, write_table

ETA_PROBES = (1e-2, 1e-3, 1e-4)  # docs/protocols/nakazato2024.md §3 E2
ETA_SCATTER = 1e-3  # the η_p of C5's threshold, whose pairs figR02 scatters


def _factorization(params, x, y, loss, activation, seed) -> dict[tuple[str, str], float]:
    values = {}
    for eta in ETA_PROBES:
        finite = finite_step_response(params, x, y, loss, activation, eta)
        first = first_order_response(params, x, y, loss, activation, eta)
        values[("response_relative_error", f"eta_p={eta:g}")] = relative_error(finite, first)
        if eta == ETA_SCATTER:
            for i in range(x.shape[0]):
                for j in range(x.shape[0]):
                    if i != j:
                        split = f"pair={i},{j}"
                        values[("response_finite", split)] = float(finite[i, j]) / eta
                        values[("response_first_order", split)] = float(first[i, j]) / eta
    return values


def _train(function: Callable[..., dict[str, float]]):
    return lambda *args: {(k, "train"): v for k, v in function(*args).items()}


# probe name -> (params, x, y, loss, activation, seed) -> {(metric, split): value}
TWO_LAYER_PROBES: dict[str, Callable[..., dict[tuple[str, str], float]]] = {
    "response": _train(lambda p, x, y, loss, act, seed: response_factors(p, x, y, loss, act)),
    "feature_space": _train(lambda p, x, y, loss, act, seed: feature_space(p, x, act)),
    # the perturbation draws come from the run's own "probes" stream: same draws every checkpoint
    "fragility": _train(lambda p, x, y, loss, act, seed: fragility(
        p, x, act, RunStreams(seed).torch("probes"))),
    "factorization": _factorization,
}


def measure_two_layer_group(config_path: str | Path, checkpoints_dir: str | Path,
                            data_root: str | Path, out: str | Path,
                            regions_out: str | Path | None = None,
                            device: str = "cpu") -> pd.DataFrame:
    """Probe every checkpoint of the group; writes the metrics part ``out`` (and an empty
    regions part: the regions analysis is loukas2021's)."""
    with open(config_path) as handle:
        config = json.load(handle)
    unknown = [p for p in config.get("probes", []) if p not in TWO_LAYER_PROBES]
    if unknown:
        raise ValueError(f"probes {unknown} unknown for trainer two_layer; allowed: "
                         f"{sorted(TWO_LAYER_PROBES)}")
    files = sorted(Path(checkpoints_dir).glob("step_*.pt"))
    if not files:
        raise FileNotFoundError(f"no checkpoints (step_*.pt) in {checkpoints_dir}")
    members = config["members"]
    data = [member_data(config, m, Path(data_root)) for m in members]
    settings = [(b[1].activation, b[2].loss) for b in (member_blocks(config, m) for m in members)]
    rows: list[dict[str, Any]] = []
    for file in files:
        checkpoint = load_checkpoint(file)
        step = int(checkpoint["step"])
        for index, member in enumerate(members):
            params = {k: v[index:index + 1].to(torch.float64)
                      for k, v in checkpoint["params"].items()}
            if not all(torch.isfinite(v).all() for v in params.values()):
                continue  # a diverged run: its parameters measure nothing
            activation, loss = settings[index]
            for name in config.get("probes", []):
                values = TWO_LAYER_PROBES[name](params, data[index].x_train,
                                                data[index].y_train, loss, activation,
                                                member["seed"])
                rows += [{"run_id": member["run_id"], "step": step, "epoch": float(step),
                          "split": split, "metric": metric, "value": value}
                         for (metric, split), value in values.items()]
    table = pd.DataFrame(rows, columns=list(TABLES["metrics"]))
    table = table.astype({"step": "int64", "epoch": "float64", "value": "float64"})
    write_table(table, out, "metrics")
    if regions_out is not None:
        write_table(empty_table("regions"), regions_out, "regions")
    return table
