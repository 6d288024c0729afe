"""Figures, claim checks, paper reports and the manifest of everything built.

INPUTS:  results/<scale>/<paper>/tables/{runs,metrics,regions}.parquet,
         analysis/<paper>/{figures,claims}.py with the other modules of the paper's room
         (analysis/<paper>/*.py: their parts and stats.py), analysis/<paper>/notes.md (declared
         as inputs: editing them rebuilds what they feed)
OUTPUTS: figures/<scale>/<paper>/<figure>.{pdf,png}, results/<scale>/<paper>/claims.tsv,
         figures/<scale>/<paper>/REPORT.md,
         figures/<scale>/verdicts.html (every claim of every paper, the report's first item),
         figures/<scale>/all (path and sha256 of every figure and report of the scale),
         figures/all (a copy of the configured scale's manifest: the default target)
"""


rule plot_figure:
    input:
        runs=f"{RESULTS}/{{paper}}/tables/runs.parquet",
        metrics=f"{RESULTS}/{{paper}}/tables/metrics.parquet",
        regions=f"{RESULTS}/{{paper}}/tables/regions.parquet",
        module="analysis/{paper}/figures.py",
        room=lambda w: room_files(w.paper),
    output:
        pdf=f"{PLOTS}/{{paper}}/{{figure}}.pdf",
        png=report(
            f"{PLOTS}/{{paper}}/{{figure}}.png",
            caption="../report/figure.rst",
            category="{paper}",
            subcategory="figures",
            labels=figure_report_labels,
        ),
    log:
        f"{LOGS}/{{paper}}/plot_figure/{{figure}}.log",
    conda:
        "../envs/trainlens.yaml"
    params:
        # the scale goes into the figure's visible title (trainlens.plotting.save_figure)
        scale=SCALE,
        slice=SLICE_FLAG,
        # for the report caption (report/figure.rst); static, so they never trigger reruns
        report=lambda w: f"{PLOTS}/{w.paper}/REPORT.md",
        kind=lambda w: FIGURES[w.paper][w.figure].kind,
        study=lambda w: w.paper in STUDIES,
        caption=lambda w: FIGURES[w.paper][w.figure].full_caption,
    shell:
        "trainlens plot --figures-module {input.module} --figure {wildcards.figure} "
        "--runs {input.runs} --metrics {input.metrics} --table regions={input.regions} "
        "--scale {params.scale}{params.slice} "
        "--pdf {output.pdf} --png {output.png} > {log} 2>&1"


rule check_claims:
    input:
        runs=f"{RESULTS}/{{paper}}/tables/runs.parquet",
        metrics=f"{RESULTS}/{{paper}}/tables/metrics.parquet",
        regions=f"{RESULTS}/{{paper}}/tables/regions.parquet",
        module="analysis/{paper}/claims.py",
        room=lambda w: room_files(w.paper),
    output:
        # not a report item itself: four files named claims.tsv would be four rst targets of one
        # name (a docutils warning per caption); the verdict summary shows every row and links
        # each paper's claims.tsv for download
        f"{RESULTS}/{{paper}}/claims.tsv",
    log:
        f"{LOGS}/{{paper}}/check_claims.log",
    # papers only: a suite study has findings, not claims (rules/atlas.smk)
    wildcard_constraints:
        paper="|".join(PAPERS),
    conda:
        "../envs/trainlens.yaml"
    params:
        scale=SCALE,
    shell:
        "trainlens claims --claims-module {input.module} --runs {input.runs} "
        "--metrics {input.metrics} --table regions={input.regions} --scale {params.scale} "
        "--out {output} > {log} 2>&1"


rule write_report:
    input:
        claims=f"{RESULTS}/{{paper}}/claims.tsv",
        pngs=lambda w: expand(
            f"{PLOTS}/{{{{paper}}}}/{{figure}}.png", figure=FIGURES[w.paper]
        ),
        experiments="experiments/{paper}.yaml",
        module="analysis/{paper}/figures.py",
        room=lambda w: room_files(w.paper),
        notes="analysis/{paper}/notes.md",
    output:
        f"{PLOTS}/{{paper}}/REPORT.md",
    log:
        f"{LOGS}/{{paper}}/write_report.log",
    # papers only: a study's report is write_atlas_report's (rules/atlas.smk)
    wildcard_constraints:
        paper="|".join(PAPERS),
    conda:
        "../envs/trainlens.yaml"
    params:
        slice=SLICE_FLAG,
        scale=SCALE,
    shell:
        "trainlens report --experiments {input.experiments} --figures-module {input.module} "
        "--claims {input.claims} --notes {input.notes} --scale {params.scale} {params.slice} --out {output} "
        "--pngs {input.pngs} > {log} 2>&1"


# The verdict summary: one self-contained HTML page per scale (all papers), shown in the
# report's page; its category sorts first, and report/workflow.rst opens on its counts.
rule write_verdict_summary:
    input:
        claims=expand(f"{RESULTS}/{{paper}}/claims.tsv", paper=PAPERS),
    output:
        report(
            f"{PLOTS}/verdicts.html",
            caption="../report/verdicts.rst",
            category="0 Verdict summary",
            labels=verdict_summary_labels,
        ),
    log:
        f"{LOGS}/write_verdict_summary.log",
    conda:
        "../envs/trainlens.yaml"
    params:
        scale=SCALE_DIR,
    shell:
        "trainlens verdicts --claims {input.claims} --scale {params.scale} --out {output} "
        "> {log} 2>&1"


rule write_manifest:
    input:
        claims=expand(f"{RESULTS}/{{paper}}/claims.tsv", paper=PAPERS),
        summary=f"{PLOTS}/verdicts.html",
        reports=expand(f"{PLOTS}/{{paper}}/REPORT.md", paper=PAPERS + STUDIES),
        tables=expand(f"{RESULTS}/{{study}}/tables/{{study}}.parquet", study=STUDIES),
        figures=[
            f"{PLOTS}/{paper}/{figure}.{ext}"
            for paper in PAPERS + STUDIES
            for figure in FIGURES[paper]
            for ext in ("pdf", "png")
        ],
    output:
        f"{PLOTS}/all",
    log:
        f"{LOGS}/write_manifest.log",
    conda:
        "../envs/trainlens.yaml"
    params:
        stop=" --stop-on-gating-fail" if config.get("stop_on_gating_fail") else "",
    shell:
        "trainlens manifest --out {output} --claims {input.claims}{params.stop} "
        "--files {input.summary} {input.reports} {input.tables} {input.figures} 2>&1 | tee {log}"


# figures/all, the default target (README: snakemake --cores 2 figures/all), is the manifest of
# the configured scale. The copy records the scale as a param and its source as its input, so a
# build with another scale rewrites it (Snakemake's params and input rerun triggers) even when
# that scale's manifest is older (the triggers read .snakemake/ metadata: without it, delete
# figures/all or rerun with -R copy_manifest); the paths it lists name their scale folder.
rule copy_manifest:
    input:
        f"{PLOTS}/all",
    output:
        "figures/all",
    log:
        f"{LOGS}/copy_manifest.log",
    conda:
        "../envs/trainlens.yaml"
    params:
        scale=SCALE_DIR,
    shell:
        "cp {input} {output} > {log} 2>&1"
