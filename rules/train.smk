"""Training: one job per group (the seeds, and vmappable grid values, of one configuration).

INPUTS:  experiments/<paper>.yaml; downloaded datasets where a group needs one.
OUTPUTS: in results/<scale>/<paper>/groups/<group>/:
           config.json            resolved science config of the group
           runs.parquet           one row per run (status, config, time)
           train_metrics.parquet  per-epoch / per-step metrics
           checkpoints/           log-spaced checkpoints of all members; at smoke scale
                                  temporary: only the group's probe job reads them, and
                                  Snakemake deletes them once it has run (573 MB of dherin2022
                                  E1 alone); a probe rerun retrains the group, seconds to
                                  minutes at smoke. Kept at cpu and paper scale.
           trace.npz              per-step traces (where recorded)
           .train_state/          resumable state while training (removed at the end; not an
                                  output)
"""

# One resolve job per paper (not per group): the experiments file is validated once, and each
# of these jobs would otherwise pay seconds of Python start-up for a millisecond of work.
for _paper in PAPERS + STUDIES:

    rule:
        name:
            f"resolve_{_paper}"
        input:
            experiments=f"experiments/{_paper}.yaml",
        output:
            group_files(_paper, "config.json"),
        log:
            f"{LOGS}/{_paper}/resolve.log",
        localrule: True
        conda:
            "../envs/trainlens.yaml"
        params:
            scale=SCALE,
            groups=list(GROUPS[_paper]),
            slice=SLICE_FLAG + CHECKSUMS_FLAG,
        shell:
            "trainlens resolve --experiments {input.experiments} --scale {params.scale} "
            "--group {params.groups} --out {output} {params.slice} > {log} 2>&1"


rule train_group:
    input:
        config=f"{RESULTS}/{{paper}}/groups/{{group}}/config.json",
        data=dataset_stamps,
    output:
        runs=f"{RESULTS}/{{paper}}/groups/{{group}}/runs.parquet",
        metrics=f"{RESULTS}/{{paper}}/groups/{{group}}/train_metrics.parquet",
        # temporary at smoke scale (see the docstring), kept at cpu and paper scale
        checkpoints=(
            temp(directory(f"{RESULTS}/{{paper}}/groups/{{group}}/checkpoints"))
            if SCALE == "smoke"
            else directory(f"{RESULTS}/{{paper}}/groups/{{group}}/checkpoints")
        ),
        trace=f"{RESULTS}/{{paper}}/groups/{{group}}/trace.npz",
    log:
        f"{LOGS}/{{paper}}/train_group/{{group}}.log",
    benchmark:
        f"{RESULTS}/{{paper}}/benchmarks/train_group/{{group}}.tsv"
    conda:
        "../envs/trainlens.yaml"
    threads: 1
    resources:
        gpu=gpus,
    params:
        data_root=DATA_ROOT,
        device=DEVICE,
        deterministic="--deterministic" if config.get("deterministic") else "",
        # resumable state: not an output, so it survives a killed job and --rerun-incomplete
        state_dir=lambda w: f"{RESULTS}/{w.paper}/groups/{w.group}/.train_state",
    shell:
        "trainlens train --config {input.config} --data-root {params.data_root} "
        "--runs {output.runs} --metrics {output.metrics} --checkpoints {output.checkpoints} "
        "--trace {output.trace} --state-dir {params.state_dir} --device {params.device} {params.deterministic} "
        "--threads {threads} > {log} 2>&1"
