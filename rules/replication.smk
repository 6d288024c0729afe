"""The replication record: REPLICATION.md, one row per claim of every paper and scale.

INPUTS:  tests/golden/smoke/<paper>/claims.tsv (the smoke verdicts CI rebuilds and compares),
         replication/cpu/<paper>/claims.tsv and replication/cpu/MANIFEST.json (the published cpu
         build: `trainlens publish --scale cpu ...`, README "The replication record"),
         analysis/<paper>/{claims,figures}.py, experiments/<paper>.yaml,
         replication/cpu/atlas/correlations.tsv (the published atlas: trainlens publish --study
         atlas) with analysis/atlas/stats.py
OUTPUTS: REPLICATION.md (snakemake --cores 1 REPLICATION.md)
"""


rule replication_record:
    input:
        smoke=expand("tests/golden/smoke/{paper}/claims.tsv", paper=PAPERS),
        cpu=expand("replication/cpu/{paper}/claims.tsv", paper=PAPERS),
        manifest="replication/cpu/MANIFEST.json",
        # the atlas's section: its published correlations, read with its statistics module
        atlas=["replication/cpu/atlas/correlations.tsv", "analysis/atlas/stats.py"],
        claims=expand("analysis/{paper}/claims.py", paper=PAPERS),
        figures=expand("analysis/{paper}/figures.py", paper=PAPERS),
        experiments=expand("experiments/{paper}.yaml", paper=PAPERS),
        # the record is nothing but this module's rendering: a change to it rewrites the file
        code="src/trainlens/replication.py",
    output:
        "REPLICATION.md",
    log:
        "logs/replication_record.log",
    conda:
        "../envs/trainlens.yaml"
    params:
        papers=" ".join(PAPERS),
    shell:
        "trainlens replication --papers {params.papers} --out {output} > {log} 2>&1"
