"""What each ``trainlens`` subcommand does (the parser and ``main`` are :mod:`trainlens.cli`).

Each ``cmd_*`` takes the parsed arguments and calls one plain function of the package. Heavy
modules (torch, pandas) are imported inside the command that needs them, so that the figure,
claim and report jobs stay light (tests/unit/test_light_imports.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from trainlens.analysis_modules import load_module
from trainlens.experiments.typed import ConfigError


def _threads(n: int, deterministic: bool = False) -> None:
    import torch

    torch.set_num_threads(n)  # oversubscribed threads are many times slower on 2 cores
    if deterministic:
        # cuBLAS needs a fixed workspace for deterministic GEMMs; set before CUDA initialises.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False


def cmd_resolve(a: argparse.Namespace) -> None:
    from trainlens.experiments.loading import load_experiments
    from trainlens.experiments.slicing import tiny_slice
    from trainlens.io import write_json

    if len(a.group) != len(a.out):
        raise ConfigError(f"--group names {len(a.group)} group(s) but --out {len(a.out)} "
                          "file(s); give one output file per group, in the same order")
    if a.checksums and not a.slice:
        raise ConfigError("--checksums replaces torchvision's MD5 table and is allowed only with "
                          "--slice (synthetic test files)")
    # one job resolves every group of a paper: the experiments file is read and validated once
    groups = {g.group_id: g for g in load_experiments(a.experiments, a.scale)}
    missing = [g for g in a.group if g not in groups]
    if missing:
        raise ConfigError(f"{a.experiments}: no group(s) {missing} at scale {a.scale}; groups: "
                          f"{sorted(groups)}")
    for group_id, out in zip(a.group, a.out):
        config = groups[group_id].config
        write_json(out, tiny_slice(config, a.checksums) if a.slice else config)


# keys of every config.json that ``trainlens resolve`` writes (trainlens.experiments.resolving)
GROUP_KEYS = ("paper", "experiment", "group_id", "model", "train", "members")


def _group_config(path: str) -> dict:
    """The resolved group config at ``path``; a file that is not one names itself and what was
    expected, in one line."""
    expected = ("expected the JSON object that `trainlens resolve` writes "
                "(results/<paper>/groups/<group>/config.json) with keys " + ", ".join(GROUP_KEYS))
    try:
        document = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found; {expected}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"{path}: not JSON ({error}); {expected}") from None
    missing = [k for k in GROUP_KEYS if not isinstance(document, dict) or k not in document]
    if missing:
        raise ConfigError(f"{path}: missing {', '.join(missing)}; {expected}")
    return document


def _engine(config_path: str, stage: str, device: str):
    """The train or measure function of the group's trainer (config.json ``trainer``) and the
    job's device: by the rule of ``trainlens.devices`` (a free GPU for 'cuda'), or the CPU for
    a trainer that runs only there."""
    import importlib

    from trainlens.devices import select_device
    from trainlens.experiments.trainers import TRAINERS

    trainer = _group_config(config_path).get("trainer", "ensemble")
    if trainer not in TRAINERS:
        raise ConfigError(f"{config_path}: trainer {trainer!r} unknown; allowed: "
                          f"{sorted(TRAINERS)}")
    engine = TRAINERS[trainer]
    module, function = getattr(engine, stage).split(":")
    if engine.uses_device:
        device = str(select_device(device))
        print(f"device: {device}", file=sys.stderr, flush=True)
    return getattr(importlib.import_module(module), function), device


def cmd_train(a: argparse.Namespace) -> None:
    _group_config(a.config)  # a bad file fails before torch is imported
    _threads(a.threads, a.deterministic)
    train, device = _engine(a.config, "train", a.device)
    train(a.config, a.data_root, a.runs, a.metrics, a.checkpoints, a.trace, device, a.state_dir,
          a.save_interval)


def _named_paths(items: list[str], flag: str) -> dict[str, str]:
    """``NAME=PATH`` arguments as {name: path}."""
    pairs = [item.partition("=") for item in items]
    bad = [item for item, (name, eq, path) in zip(items, pairs) if not (name and eq and path)]
    if bad:
        raise ConfigError(f"{flag} takes NAME=PATH, got {bad[0]!r}")
    return {name: path for name, _, path in pairs}


def cmd_measure(a: argparse.Namespace) -> None:
    _group_config(a.config)
    _threads(a.threads, a.deterministic)
    measure, device = _engine(a.config, "measure", a.device)
    measure(a.config, a.checkpoints, a.data_root, a.out, _named_paths(a.table, "--table"),
            device)


def cmd_collect(a: argparse.Namespace) -> None:
    from trainlens.tables import concat_tables, write_table

    write_table(concat_tables(a.parts, a.table), a.out, a.table)


def _inputs(a: argparse.Namespace):
    from trainlens.tables import TABLES, read_table

    paths = _named_paths(a.table, "--table")
    unknown = sorted(set(paths) - set(TABLES))
    if unknown:
        raise ConfigError(f"--table {unknown[0]}: not a table; known: {', '.join(sorted(TABLES))}")
    extra = {name: read_table(path, name) for name, path in paths.items()}
    return read_table(a.runs, "runs"), read_table(a.metrics, "metrics"), extra


def cmd_plot(a: argparse.Namespace) -> None:
    from trainlens.experiments.ids import config_hash
    from trainlens.plotting import draw_figure, save_figure

    figure_set = load_module(a.figures_module).figures
    if a.figure not in figure_set.figures:
        raise ConfigError(f"figure {a.figure!r} unknown; known: {sorted(figure_set.figures)}")
    spec = figure_set.figures[a.figure]
    runs, metrics, extra = _inputs(a)
    fig = draw_figure(spec, runs, metrics, a.scale, extra)
    shown = runs.loc[runs["experiment"].isin(spec.experiments), "run_id"]
    save_figure(fig, a.pdf, a.png, spec.stem, spec.full_caption, a.scale,
                config_hash(sorted(shown)), a.slice)


def cmd_claims(a: argparse.Namespace) -> None:
    from trainlens.claims import run_claims
    from trainlens.tables import write_table

    runs, metrics, extra = _inputs(a)
    table = run_claims(load_module(a.claims_module).claims, runs, metrics, a.scale, extra)
    write_table(table, a.out, "claims")
    for row in table.itertuples():
        print(f"{row.paper}:{row.claim_id:<4} {row.passed or '-':<5} {row.value} {row.reason}")


def cmd_report(a: argparse.Namespace) -> None:
    import yaml

    from trainlens.report import write_report
    from trainlens.tables import read_table

    with open(a.experiments) as handle:
        document = yaml.safe_load(handle)
    figure_set = load_module(a.figures_module).figures
    pngs = {Path(p).stem: p for p in a.pngs}
    write_report(document["paper"], document.get("title", document["paper"]), figure_set,
                 read_table(a.claims, "claims"), a.notes, pngs, a.scale, a.out, a.slice)


def cmd_atlas_report(a: argparse.Namespace) -> None:
    from trainlens.tables import read_table

    module = load_module(a.report_module)
    out = module.write_atlas_report(read_table(a.runs, "runs"), read_table(a.metrics, "metrics"),
                                    a.scale, a.pngs, a.out, a.correlations)
    print(f"trainlens: wrote {out}" + (f" and {a.correlations}" if a.correlations else ""))


def cmd_verdicts(a: argparse.Namespace) -> None:
    from trainlens.verdicts import write_verdict_summary

    print(f"trainlens: wrote {write_verdict_summary(a.claims, a.scale, a.out)}")


def cmd_manifest(a: argparse.Namespace) -> None:
    from trainlens.report import gating_failures, write_manifest

    failed = gating_failures(a.claims)
    if failed:
        print("gating claims FAILED (reported in the papers' REPORT.md):\n  " + "\n  ".join(failed),
              file=sys.stderr)
        if a.stop_on_gating_fail:
            raise SystemExit(1)
    write_manifest(a.files, a.out)
    reports = [f for f in a.files if f.endswith("REPORT.md")]
    print("trainlens: built " + ", ".join(reports) + f" (manifest: {a.out})")


def cmd_list(a: argparse.Namespace) -> None:
    import yaml

    from trainlens.listing import SAFE_YAML_LOADER, find_root, listing

    root = find_root(a.root or Path.cwd())
    config = (root / "experiments" / "config.yaml").read_text()
    scale = a.scale or yaml.load(config, Loader=SAFE_YAML_LOADER)["scale"]
    try:
        print(listing(root, scale))
    except BrokenPipeError:  # `trainlens list | head`: the reader left, which is no error
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (Python flushes stdout at exit)


def cmd_publish(a: argparse.Namespace) -> None:
    from trainlens.listing import find_root
    from trainlens.publish import publish

    root = find_root(Path.cwd())
    if a.study:
        from trainlens.publish_study import publish_study

        manifest = publish_study(root, a.scale, a.study, root / a.out, a.build_wall_s)
        print(f"trainlens: published the {a.scale} build of the {a.study} study ({manifest})")
        return
    if not a.papers:
        raise SystemExit("trainlens publish: name the papers (--papers loukas2021 ...) or a "
                         "study (--study atlas)")
    manifest = publish(root, a.scale, a.papers, root / a.out, a.build_wall_s)
    print(f"trainlens: published the {a.scale} build of {', '.join(a.papers)} ({manifest})")


def cmd_replication(a: argparse.Namespace) -> None:
    from trainlens.listing import find_root
    from trainlens.replication import write_replication

    root = find_root(Path.cwd())
    papers = {}
    for paper in a.papers:
        figures = load_module(root / "analysis" / paper / "figures.py").figures.figures
        papers[paper] = (load_module(root / "analysis" / paper / "claims.py").claims,
                         {stem: spec.experiments for stem, spec in figures.items()})
    stats = root / "analysis" / "atlas" / "stats.py"
    atlas = load_module(stats) if stats.exists() else None
    print(f"trainlens: wrote {write_replication(root, papers, root / a.out, atlas)}")


def cmd_relink(a: argparse.Namespace) -> None:
    from trainlens.io import atomic_write_text
    from trainlens.report import relink_markdown

    text = relink_markdown(Path(a.source).read_text(), a.prefix)
    print(f"trainlens: wrote {atomic_write_text(a.out, text)} (links under {a.prefix})")


def cmd_atlas_table(a: argparse.Namespace) -> None:
    from trainlens.tables import read_table

    module = load_module(Path(a.module))
    table = module.atlas_table(read_table(a.runs, "runs"), read_table(a.metrics, "metrics"))
    table.to_parquet(a.out, index=False)
    print(f"trainlens: wrote {a.out} ({len(table)} rows, {table['run_id'].nunique()} runs)")


def cmd_download(a: argparse.Namespace) -> None:
    from trainlens.data import DATASETS
    from trainlens.data.torchvision.fetch import download

    if a.dataset not in DATASETS or not DATASETS[a.dataset].needs_download:
        allowed = sorted(k for k, v in DATASETS.items() if v.needs_download)
        raise ConfigError(f"dataset {a.dataset!r} is not downloadable; allowed: {allowed}")
    checksums = json.loads(Path(a.checksums).read_text()) if a.checksums else None
    print(f"verified {download(a.dataset, a.data_root, checksums)}")
