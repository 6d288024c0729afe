"""The ``trainlens`` command: thin entry points that the Snakemake rules call.

Each subcommand takes files, not values, and calls one plain function of the package, so every
job can be rerun by hand from the command that ``snakemake -p`` prints. Bad input ends with one
line naming what is wrong (exit 2), never a traceback. This module is the parser and ``main``;
the commands themselves are :mod:`trainlens.commands`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from trainlens.analysis_modules import load_module  # noqa: F401  (a name tests and analysis use)
from trainlens.commands import (
    cmd_atlas_report,
    cmd_atlas_table,
    cmd_claims,
    cmd_collect,
    cmd_download,
    cmd_list,
    cmd_manifest,
    cmd_measure,
    cmd_plot,
    cmd_publish,
    cmd_relink,
    cmd_replication,
    cmd_report,
    cmd_resolve,
    cmd_train,
    cmd_verdicts,
)
from trainlens.experiments.scales import SCALES
from trainlens.experiments.typed import ConfigError


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _req(help: str, **kwargs) -> dict:
    """Options of a required argument."""
    return {"required": True, "help": help, **kwargs}


def _adder(sub: argparse._SubParsersAction) -> Callable[..., None]:
    """``add(name, func, help, *(flag, kwargs))``: one subcommand and its arguments."""

    def add(name: str, func, help: str, *args: tuple[str, dict]) -> None:
        p = sub.add_parser(name, help=help, description=help)
        for flag, kwargs in args:
            p.add_argument(flag, **kwargs)
        p.set_defaults(func=func)

    return add


# options that several subcommands share
SCALE = ("--scale", _req("which per-scale overrides and thresholds apply", choices=SCALES))
THREADS = ("--threads", {"type": positive_int, "default": 1,
                         "help": "torch threads (the job's)"})
DEVICE = ("--device", {"default": "cpu", "help": "cpu, cuda or cuda:N"})
DETERMINISTIC = ("--deterministic", {"action": "store_true",
                                     "help": "deterministic kernels (GPU; slower)"})
DATA_ROOT = ("--data-root", {"default": "data", "help": "folder of downloaded datasets"})
CHECKSUMS = ("--checksums", {"help": "JSON relpath -> MD5 replacing torchvision's table "
                                     "(tiny synthetic test files only)"})
GROUP_CONFIG = ("--config", _req("the group's resolved config.json (from trainlens resolve)"))
TABLES = (("--runs", _req("the paper's runs table (runs.parquet)")),
          ("--metrics", _req("the paper's metrics table (metrics.parquet)")),
          ("--table", {"action": "append", "default": [], "metavar": "NAME=PATH",
                       "help": "an extra table of the paper by name (e.g. regions=regions.parquet, "
                               "loukas2021 E2); repeatable"}))
FIGURES_MODULE = ("--figures-module", _req("the paper's analysis/<slug>/figures.py"))


def _stage_commands(add: Callable[..., None]) -> None:
    """Resolve, train and measure: the jobs of one training group."""
    add("resolve", cmd_resolve, "write the resolved config.json of training groups",
        ("--experiments", _req("the paper's experiments/<slug>.yaml")), SCALE,
        ("--group", _req("group ids", nargs="+")),
        ("--out", _req("one config.json per group, in order", nargs="+")),
        ("--slice", {"action": "store_true",
                     "help": "shrink the group to a tiny slice (checks the commands run)"}),
        CHECKSUMS)
    add("train", cmd_train, "train one group (ensemble) and write its tables and checkpoints",
        GROUP_CONFIG, DATA_ROOT,
        ("--runs", _req("where to write the group's runs table (parquet)")),
        ("--metrics", _req("where to write the group's training metrics (parquet)")),
        ("--checkpoints", _req("where to write the group's checkpoints")),
        ("--trace", {"help": "where to write per-step traces (npz), if the config records them"}),
        ("--state-dir", {"help": "keep resumable state here; a restarted job resumes from it"}),
        ("--save-interval", {"type": float, "default": 60.0,
                             "help": "seconds between resumable states (at epoch ends)"}),
        DEVICE, THREADS, DETERMINISTIC)
    add("measure", cmd_measure, "run a group's probes on its checkpoints",
        GROUP_CONFIG, ("--checkpoints", _req("the group's checkpoints (from trainlens train)")),
        DATA_ROOT, ("--out", _req("where to write the probe metrics (parquet)")),
        ("--table", {"action": "append", "default": [], "metavar": "NAME=PATH",
                     "help": "where to write an extra table of the group's probes (e.g. "
                             "regions=probe_regions.parquet, loukas2021 E2); repeatable"}),
        DEVICE, THREADS, DETERMINISTIC)


def _analysis_commands(add: Callable[..., None]) -> None:
    """Tables, figures, claims and a paper's or study's report."""
    add("collect", cmd_collect, "concatenate per-group table parts into one table",
        ("--table", _req("which table the parts are", choices=["runs", "metrics", "regions"])),
        ("--out", _req("the concatenated table (parquet)")),
        ("parts", {"nargs": "+", "help": "the per-group parts (parquet)"}))
    add("plot", cmd_plot, "draw one figure of a paper from its tables", FIGURES_MODULE,
        ("--figure", _req("the figure's file stem, e.g. figR01_mlp_trajectory")), *TABLES, SCALE,
        ("--pdf", _req("where to write the figure as PDF")),
        ("--png", _req("where to write the figure as PNG")),
        ("--slice", {"action": "store_true", "help": "the results come from a tiny slice"}))
    add("claims", cmd_claims, "check a paper's claims and write claims.tsv",
        ("--claims-module", _req("the paper's analysis/<slug>/claims.py")), *TABLES, SCALE,
        ("--out", _req("where to write claims.tsv")))
    add("report", cmd_report, "write a paper's REPORT.md",
        ("--experiments", _req("the paper's experiments/<slug>.yaml (paper and title)")),
        FIGURES_MODULE, ("--claims", _req("the paper's claims.tsv")),
        ("--notes", _req("the paper's analysis/<slug>/notes.md")), SCALE,
        ("--out", _req("where to write REPORT.md")),
        ("--slice", {"action": "store_true", "help": "the results come from a tiny slice"}),
        ("--pngs", _req("the paper's figure PNGs", nargs="+")))
    add("atlas-report", cmd_atlas_report, "write the atlas study's REPORT.md (findings, no "
        "claims) from its tables",
        ("--report-module", {"default": "analysis/atlas/report.py",
                             "help": "the atlas's analysis/atlas/report.py"}),
        ("--runs", _req("the atlas's runs table (runs.parquet)")),
        ("--metrics", _req("the atlas's metrics table (metrics.parquet)")),
        # the scale folder the report names: smoke, cpu, paper, or a slice such as paper-slice
        ("--scale", _req("the scale folder of the build, e.g. cpu or paper-slice")),
        ("--pngs", _req("the atlas's figure PNGs", nargs="+")),
        ("--out", _req("where to write REPORT.md")),
        ("--correlations", {"help": "also write every pair's Spearman ρ and interval (TSV)"}))


def _study_commands(add: Callable[..., None]) -> None:
    """The scale's manifest and verdicts, publishing, listing, downloads."""
    add("verdicts", cmd_verdicts, "write the verdict summary page of snakemake --report "
        "(every claim of every paper, colour-coded)",
        ("--claims", _req("every paper's claims.tsv, in the order to list them", nargs="+")),
        ("--scale", _req("the scale folder the claims come from (a label on the page)")),
        ("--out", _req("where to write the page (figures/<scale>/verdicts.html)")))
    add("manifest", cmd_manifest, "write figures/<scale>/all: every figure and report, sha256",
        ("--out", _req("where to write the manifest (figures/<scale>/all)")),
        ("--claims", _req("every paper's claims.tsv (gating FAILs are printed)", nargs="+")),
        ("--stop-on-gating-fail", {"action": "store_true",
                                   "help": "exit 1 without the manifest if a gating claim "
                                           "FAILed"}),
        ("--files", _req("the reports and figures to list", nargs="+")))
    papers = ("--papers", _req("the papers, in the order to list them", nargs="+"))
    add("publish", cmd_publish, "copy a scale's claims, reports and PNGs to replication/<scale>/ "
        "with a manifest (commit, versions, machine, job times, sha256)",
        SCALE, ("--papers", {"nargs": "+", "help": "the papers to publish (or --study)"}),
        ("--out", _req("the record's folder, e.g. replication/cpu")),
        ("--build-wall-s", {"type": float, "help": "the build's measured wall time, seconds"}),
        ("--study", {"choices": ["atlas"], "help": "publish this suite study instead of the "
                     "papers, e.g. --study atlas --out replication/cpu/atlas"}))
    add("replication", cmd_replication, "write REPLICATION.md from the committed smoke and cpu "
        "claims tables", papers, ("--out", {"default": "REPLICATION.md", "help": "where to write"}))
    add("relink", cmd_relink, "copy a markdown report with its relative links under a prefix",
        ("--source", _req("the report to copy")), ("--prefix", _req("e.g. ../cpu/atlas/")),
        ("--out", _req("where to write the copy")))
    add("atlas-table", cmd_atlas_table, "the complexity atlas's tidy table: one row per run, "
        "checkpoint and measure (analysis/atlas/table.py)",
        ("--runs", _req("runs.parquet of the atlas")), ("--metrics", _req("its metrics.parquet")),
        ("--module", {"default": "analysis/atlas/table.py", "help": "the table module"}),
        ("--out", _req("atlas.parquet to write")))
    add("download", cmd_download, "download and verify a torchvision dataset",
        ("--dataset", _req("the dataset name, e.g. cifar10")), DATA_ROOT, CHECKSUMS)
    add("list", cmd_list, "list papers, experiments, figures and claims with their status "
        "(reads files only; runs nothing)",
        ("--root", {"help": "the repository (workflow) folder; default: the one that holds "
                            "the current folder"}),
        ("--scale", {"choices": SCALES, "help": "default: experiments/config.yaml"}))


def parser() -> argparse.ArgumentParser:
    """The ``trainlens`` command line: every subcommand and option with its help text."""
    from trainlens import __version__

    top = argparse.ArgumentParser(
        prog="trainlens",
        description="Regenerate the figures and claims of papers on training dynamics. The "
                    "Snakemake workflow calls these commands (snakemake --cores 2 figures/all); "
                    "`trainlens list` shows what it builds and the verdicts of the last build.")
    top.add_argument("--version", action="version", version=f"trainlens {__version__}")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    add = _adder(sub)
    _stage_commands(add)
    _analysis_commands(add)
    _study_commands(add)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except (ConfigError, FileNotFoundError, ValueError) as error:
        print(f"trainlens {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyError as error:  # a hand-edited config.json or table missing a field
        print(f"trainlens {args.command}: error: missing key {error} in an input file; "
              "regenerate it with snakemake", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
