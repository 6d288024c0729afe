"""trainlens: regenerate the figures and claims of papers on training dynamics and complexity.

snakemake --cores 2 figures/all                      # smoke scale (default)
snakemake --cores 8 figures/all --config scale=paper # the papers' configurations
"""


configfile: "experiments/config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/measure.smk"
include: "rules/tables.smk"
include: "rules/figures.smk"


rule all:
    default_target: True
    input:
        "figures/all",
