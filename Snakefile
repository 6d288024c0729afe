"""trainlens: regenerate the figures and claims of papers on training dynamics and complexity.

snakemake --cores 2 figures/all                      # smoke scale (default)
snakemake --cores 8 figures/all --config scale=paper # the papers' configurations

Every output lives under its scale: results/<scale>/, figures/<scale>/, logs/<scale>/ (a tiny slice
under <scale>-slice); figures/all is a copy of the configured scale's manifest figures/<scale>/all.
"""

from snakemake.utils import min_version

# An older Snakemake stops here with one line: the workflow is written and tested for Snakemake 9
# (pyproject.toml: snakemake>=9,<10; requirements.lock pins the version CI runs).
min_version("9.0")


configfile: "experiments/config.yaml"


report: "report/workflow.rst"


# Under a cluster executor these run on the submitting host instead of waiting in the queue:
# bookkeeping and plotting take seconds and read only small tables, and downloads need the
# network, which compute nodes often lack. Locally this changes nothing. (The resolve rules,
# one per paper, say so themselves: rules/train.smk.)
localrules:
    download_dataset,
    collect_runs,
    collect_metrics,
    collect_regions,
    check_claims,
    plot_figure,
    write_report,
    write_verdict_summary,
    write_atlas_table,
    write_atlas_report,
    copy_atlas_report,
    write_manifest,
    copy_manifest,
    replication_record,


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/measure.smk"
include: "rules/tables.smk"
include: "rules/figures.smk"
include: "rules/atlas.smk"
include: "rules/replication.smk"


rule all:
    default_target: True
    input:
        "figures/all",
