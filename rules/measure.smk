"""Measurement: the experiment's probes on every checkpoint of a group (no retraining).

INPUTS:  results/<scale>/<paper>/groups/<group>/{config.json,checkpoints/}
OUTPUTS: in results/<scale>/<paper>/groups/<group>/:
           probe_metrics.parquet  mean and max per probe, run, checkpoint and split
           probe_regions.parquet  the extra table ``regions`` (trainlens.tables.TABLES): linear
                                  regions on a latent grid at the final checkpoint, for
                                  experiments with region_analysis; empty otherwise
"""


rule measure_group:
    input:
        config=f"{RESULTS}/{{paper}}/groups/{{group}}/config.json",
        checkpoints=f"{RESULTS}/{{paper}}/groups/{{group}}/checkpoints",
        data=dataset_stamps,
    output:
        metrics=f"{RESULTS}/{{paper}}/groups/{{group}}/probe_metrics.parquet",
        regions=f"{RESULTS}/{{paper}}/groups/{{group}}/probe_regions.parquet",
    log:
        f"{LOGS}/{{paper}}/measure_group/{{group}}.log",
    benchmark:
        f"{RESULTS}/{{paper}}/benchmarks/measure_group/{{group}}.tsv"
    conda:
        "../envs/trainlens.yaml"
    threads: 1
    resources:
        gpu=gpus,
    params:
        data_root=DATA_ROOT,
        device=DEVICE,
        deterministic="--deterministic" if config.get("deterministic") else "",
    shell:
        "trainlens measure --config {input.config} --checkpoints {input.checkpoints} "
        "--data-root {params.data_root} --out {output.metrics} --table regions={output.regions} "
        "--device {params.device} {params.deterministic} --threads {threads} > {log} 2>&1"
