"""Tables: the per-group parts concatenated into the paper's tidy tables (docs/design.md "Tables").

INPUTS:  results/<scale>/<paper>/groups/*/{runs,train_metrics,probe_metrics,probe_regions}.parquet
OUTPUTS: in results/<scale>/<paper>/tables/:
           runs.parquet     one row per run
           metrics.parquet  long: run_id, step, epoch, split, metric, value
           regions.parquet  per latent grid point (loukas2021 E2)
"""


rule collect_runs:
    input:
        lambda w: group_files(w.paper, "runs.parquet"),
    output:
        f"{RESULTS}/{{paper}}/tables/runs.parquet",
    log:
        f"{LOGS}/{{paper}}/collect_runs.log",
    conda:
        "../envs/trainlens.yaml"
    shell:
        "trainlens collect --table runs --out {output} {input} > {log} 2>&1"


rule collect_metrics:
    input:
        lambda w: group_files(w.paper, "train_metrics.parquet")
        + group_files(w.paper, "probe_metrics.parquet"),
    output:
        f"{RESULTS}/{{paper}}/tables/metrics.parquet",
    log:
        f"{LOGS}/{{paper}}/collect_metrics.log",
    conda:
        "../envs/trainlens.yaml"
    shell:
        "trainlens collect --table metrics --out {output} {input} > {log} 2>&1"


rule collect_regions:
    input:
        lambda w: group_files(w.paper, "probe_regions.parquet"),
    output:
        f"{RESULTS}/{{paper}}/tables/regions.parquet",
    log:
        f"{LOGS}/{{paper}}/collect_regions.log",
    conda:
        "../envs/trainlens.yaml"
    shell:
        "trainlens collect --table regions --out {output} {input} > {log} 2>&1"
