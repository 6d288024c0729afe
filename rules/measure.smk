"""Measurement: the experiment's probes on every checkpoint of a group (no retraining).

INPUTS:  results/<paper>/groups/<group>/{config.json,checkpoints/}
OUTPUTS: results/<paper>/groups/<group>/probe_metrics.parquet (mean and max per probe, run,
         checkpoint and split)
         results/<paper>/groups/<group>/probe_regions.parquet (linear regions on a latent grid at
         the final checkpoint, for experiments with region_analysis; empty otherwise)
"""


rule measure_group:
    input:
        config="results/{paper}/groups/{group}/config.json",
        checkpoints="results/{paper}/groups/{group}/checkpoints",
        data=dataset_stamps,
    output:
        metrics="results/{paper}/groups/{group}/probe_metrics.parquet",
        regions="results/{paper}/groups/{group}/probe_regions.parquet",
    log:
        "logs/{paper}/measure_group/{group}.log",
    benchmark:
        "results/{paper}/benchmarks/measure_group/{group}.tsv"
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
        "--data-root {params.data_root} --out {output.metrics} --regions {output.regions} "
        "--device {params.device} {params.deterministic} --threads {threads} > {log} 2>&1"
