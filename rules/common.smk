"""Run table and helpers shared by every stage.

INPUTS:  experiments/config.yaml (validated against experiments/schemas/config.schema.yaml),
         experiments/<paper>.yaml (validated and resolved by trainlens.experiments),
         analysis/<paper>/figures.py (the figure stems).
OUTPUTS: none; defines PAPERS, STUDIES (suite studies: trained and measured like a paper, with
         findings instead of claims), SCALE, SCALE_DIR (and RESULTS, PLOTS, LOGS under it), GROUPS,
         FIGURES and the wildcard constraints.
"""

import sys
from pathlib import Path

from snakemake.utils import validate

from trainlens.schema_errors import config_problem

# A bad value stops the workflow with one line (key, value, allowed values, did you mean) before
# Snakemake's own validation, which would print the whole schema; that one still runs to fill
# in the schema's defaults. sys.exit: Snakemake adds no traceback to a SystemExit.
CONFIG_SCHEMA = f"{workflow.basedir}/experiments/schemas/config.schema.yaml"
if problem := config_problem(config, CONFIG_SCHEMA):
    sys.exit(problem)
validate(config, CONFIG_SCHEMA)

# imported after the check: these import torch
from trainlens.analysis_modules import load_module, room_files  # noqa: E402
from trainlens.data import DATASETS  # noqa: E402
from trainlens.experiments.loading import load_experiments  # noqa: E402
from trainlens.experiments.trainers import TRAINERS  # noqa: E402
from trainlens.experiments.typed import ConfigError  # noqa: E402
from trainlens.report import figure_labels  # noqa: E402
from trainlens.verdicts import summary_labels  # noqa: E402

SCALE = config["scale"]
PAPERS = config["papers"]
# suite studies (experiments/<study>.yaml, analysis/<study>/): their groups train and measure like
# a paper's and their figures plot the same way, but they have no claims (rules/atlas.smk)
STUDIES = config["studies"]
DATA_ROOT = config["data_root"]
DEVICE = config["device"]
# slice: every job shrunk to a tiny slice of its configuration (checks that the commands run);
# checksums: an MD5 table for tiny synthetic dataset files, allowed only with slice.
SLICE_FLAG = " --slice" if config["slice"] else ""
if config.get("checksums") and not config["slice"]:
    sys.exit(
        "trainlens: config checksums replaces torchvision's MD5 table; it is allowed only "
        "with slice=True (tiny synthetic test files)"
    )
# Every output lives under its scale (results/<scale>/, figures/<scale>/, logs/<scale>/), so that
# no build of one scale overwrites, or is reported as, another; a tiny slice is its own scale
# folder (paper-slice): its tables replicate nothing and must never pass for the real scale's.
SCALE_DIR = SCALE + ("-slice" if config["slice"] else "")
RESULTS = f"results/{SCALE_DIR}"
PLOTS = f"figures/{SCALE_DIR}"
LOGS = f"logs/{SCALE_DIR}"
CHECKSUMS_FLAG = (
    f" --checksums {Path(config['checksums']).resolve()}"
    if config.get("checksums")
    else ""
)
# paper -> group id -> trainlens.experiments.resolving.Group (one training job per group)
# A malformed experiments file stops the workflow with its one-line ConfigError (file, key,
# allowed values), not a traceback.
try:
    GROUPS = {
        paper: {
            g.group_id: g for g in load_experiments(f"experiments/{paper}.yaml", SCALE)
        }
        for paper in PAPERS + STUDIES
    }
except ConfigError as error:
    sys.exit(f"trainlens: {error}")
# paper -> figure stem -> trainlens.plotting.FigureSpec (from analysis/<paper>/figures.py)
FIGURES = {
    paper: load_module(f"analysis/{paper}/figures.py").figures.figures
    for paper in PAPERS + STUDIES
}


wildcard_constraints:
    paper="|".join(PAPERS + STUDIES),
    group=r"[a-z][a-z0-9_]*-[0-9a-f]{8}",
    figure=r"fig[RX]?[0-9]{2}_[a-z0-9_]+",
    dataset="|".join(DATASETS),


def group_files(paper, name):
    """One file per training group of ``paper``: results/<scale>/<paper>/groups/<group>/<name>."""
    return [f"{RESULTS}/{paper}/groups/{group}/{name}" for group in GROUPS[paper]]


def dataset_stamps(wildcards):
    """Download stamps of the datasets a group reads (none for generated or bundled data)."""
    group = GROUPS[wildcards.paper][wildcards.group]
    names = {member["data"]["name"] for member in group.config["members"]}
    return [
        f"{DATA_ROOT}/{name}/.verified"
        for name in sorted(names)
        if DATASETS[name].needs_download
    ]


def gpus(wildcards):
    """GPUs a group's train or measure job takes: 1 on a CUDA device (so that ``--resources
    gpu=<number of GPUs>`` runs at most one job per GPU; trainlens.devices), 0 on the CPU and
    for a trainer that always runs on the CPU."""
    trainer = GROUPS[wildcards.paper][wildcards.group].config.get("trainer", "ensemble")
    return int(DEVICE.startswith("cuda") and TRAINERS[trainer].uses_device)


def figure_report_labels(wildcards):
    """Report labels of a figure: the verdicts of its claims (read when the report is built); a
    study's figures show findings, not claims."""
    if wildcards.paper in STUDIES:
        return {
            "figure": wildcards.figure,
            "claims": "suite study: findings, no claims",
        }
    claims = f"{RESULTS}/{wildcards.paper}/claims.tsv"
    return figure_labels(claims, wildcards.figure)


def verdict_summary_labels(wildcards):
    """Report labels of the verdict summary: the scale and the counts over every paper."""
    return summary_labels(
        [f"{RESULTS}/{paper}/claims.tsv" for paper in PAPERS], SCALE_DIR
    )
