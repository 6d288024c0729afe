"""Figures, claim checks, paper reports and the manifest of everything built.

INPUTS:  results/<paper>/tables/{runs,metrics,regions}.parquet, analysis/<paper>/{figures,claims}.py,
         analysis/<paper>/notes.md (declared as inputs: editing them rebuilds what they feed)
OUTPUTS: figures/<paper>/<figure>.{pdf,png}, results/<paper>/claims.tsv,
         figures/<paper>/REPORT.md, figures/all (path and sha256 of every figure and report)
"""


rule plot_figure:
    input:
        runs="results/{paper}/tables/runs.parquet",
        metrics="results/{paper}/tables/metrics.parquet",
        regions="results/{paper}/tables/regions.parquet",
        module="analysis/{paper}/figures.py",
    output:
        pdf="figures/{paper}/{figure}.pdf",
        png=report(
            "figures/{paper}/{figure}.png",
            caption="../report/figure.rst",
            category="{paper}",
            subcategory="figures",
            labels=figure_report_labels,
        ),
    log:
        "logs/{paper}/plot_figure/{figure}.log",
    conda:
        "../envs/trainlens.yaml"
    params:
        scale=SCALE,
        # for the report caption (report/figure.rst); static, so they never trigger reruns
        kind=lambda w: FIGURES[w.paper][w.figure].kind,
        caption=lambda w: FIGURES[w.paper][w.figure].full_caption,
    shell:
        "trainlens plot --figures-module {input.module} --figure {wildcards.figure} "
        "--runs {input.runs} --metrics {input.metrics} --regions {input.regions} "
        "--scale {params.scale} "
        "--pdf {output.pdf} --png {output.png} > {log} 2>&1"


rule check_claims:
    input:
        runs="results/{paper}/tables/runs.parquet",
        metrics="results/{paper}/tables/metrics.parquet",
        regions="results/{paper}/tables/regions.parquet",
        module="analysis/{paper}/claims.py",
    output:
        report(
            "results/{paper}/claims.tsv",
            caption="../report/claims.rst",
            category="{paper}",
            subcategory="claims",
        ),
    log:
        "logs/{paper}/check_claims.log",
    conda:
        "../envs/trainlens.yaml"
    params:
        scale=SCALE,
    shell:
        "trainlens claims --claims-module {input.module} --runs {input.runs} "
        "--metrics {input.metrics} --regions {input.regions} --scale {params.scale} "
        "--out {output} > {log} 2>&1"


rule write_report:
    input:
        claims="results/{paper}/claims.tsv",
        pngs=lambda w: expand("figures/{{paper}}/{figure}.png", figure=FIGURES[w.paper]),
        experiments="experiments/{paper}.yaml",
        module="analysis/{paper}/figures.py",
        notes="analysis/{paper}/notes.md",
    output:
        "figures/{paper}/REPORT.md",
    log:
        "logs/{paper}/write_report.log",
    conda:
        "../envs/trainlens.yaml"
    params:
        slice=SLICE_FLAG,
        scale=SCALE,
    shell:
        "trainlens report --experiments {input.experiments} --figures-module {input.module} "
        "--claims {input.claims} --notes {input.notes} --scale {params.scale} {params.slice} --out {output} "
        "--pngs {input.pngs} > {log} 2>&1"


rule write_manifest:
    input:
        claims=expand("results/{paper}/claims.tsv", paper=PAPERS),
        reports=expand("figures/{paper}/REPORT.md", paper=PAPERS),
        figures=[
            f"figures/{paper}/{figure}.{ext}"
            for paper in PAPERS
            for figure in FIGURES[paper]
            for ext in ("pdf", "png")
        ],
    output:
        "figures/all",
    log:
        "logs/write_manifest.log",
    conda:
        "../envs/trainlens.yaml"
    params:
        stop=" --stop-on-gating-fail" if config.get("stop_on_gating_fail") else "",
    shell:
        "trainlens manifest --out {output} --claims {input.claims}{params.stop} "
        "--files {input.reports} {input.figures} 2>&1 | tee {log}"
