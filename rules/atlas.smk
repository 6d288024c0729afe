"""Suite studies: the complexity atlas (docs/protocols/atlas.md), findings instead of claims.

Its groups train and measure with train_group / measure_group, its tables are collected, and its
figures are plotted by plot_figure, as a paper's; this file adds what a study has instead of
claims and a paper report.

INPUTS:  results/<scale>/atlas/tables/{runs,metrics}.parquet, analysis/atlas/*.py,
         analysis/atlas/notes.md, experiments/atlas.yaml
OUTPUTS: results/<scale>/atlas/tables/atlas.parquet  one row per run, checkpoint and measure
         figures/<scale>/atlas/REPORT.md             the findings (no PASS/FAIL)
         figures/<scale>/atlas/correlations.tsv      every pair's ρ, 95% interval and n
         figures/atlas/REPORT.md                     a copy of the configured scale's report,
                                                     its figure links into figures/<scale>/atlas/
"""


rule write_atlas_table:
    input:
        runs=f"{RESULTS}/atlas/tables/runs.parquet",
        metrics=f"{RESULTS}/atlas/tables/metrics.parquet",
        module="analysis/atlas/table.py",
    output:
        f"{RESULTS}/atlas/tables/atlas.parquet",
    log:
        f"{LOGS}/atlas/write_atlas_table.log",
    conda:
        "../envs/trainlens.yaml"
    shell:
        "trainlens atlas-table --runs {input.runs} --metrics {input.metrics} "
        "--module {input.module} --out {output} > {log} 2>&1"


rule write_atlas_report:
    input:
        runs=f"{RESULTS}/atlas/tables/runs.parquet",
        metrics=f"{RESULTS}/atlas/tables/metrics.parquet",
        table=f"{RESULTS}/atlas/tables/atlas.parquet",
        pngs=lambda w: expand(f"{PLOTS}/atlas/{{figure}}.png", figure=FIGURES["atlas"]),
        experiments="experiments/atlas.yaml",
        modules=["analysis/atlas/report.py", "analysis/atlas/stats.py"],
        notes="analysis/atlas/notes.md",
    output:
        report=report(
            f"{PLOTS}/atlas/REPORT.md",
            caption="../report/atlas.rst",
            category="atlas",
            subcategory="report",
            labels={"figure": "REPORT", "claims": "suite study: findings, no claims"},
        ),
        # every pair's ρ, interval and n per setting: what REPLICATION.md's atlas section reads
        correlations=f"{PLOTS}/atlas/correlations.tsv",
    log:
        f"{LOGS}/atlas/write_atlas_report.log",
    conda:
        "../envs/trainlens.yaml"
    params:
        scale=SCALE_DIR,
    shell:
        "trainlens atlas-report --runs {input.runs} --metrics {input.metrics} "
        "--scale {params.scale} --pngs {input.pngs} --out {output.report} "
        "--correlations {output.correlations} > {log} 2>&1"


# figures/atlas/REPORT.md (the issue's and the README's target) is the configured scale's report,
# as figures/all is the configured scale's manifest; its figure links point into the scale folder
rule copy_atlas_report:
    input:
        f"{PLOTS}/atlas/REPORT.md",
    output:
        "figures/atlas/REPORT.md",
    log:
        f"{LOGS}/atlas/copy_atlas_report.log",
    conda:
        "../envs/trainlens.yaml"
    params:
        prefix=f"../{SCALE_DIR}/atlas/",
    shell:
        "trainlens relink --prefix {params.prefix} --source {input} --out {output} > {log} 2>&1"
