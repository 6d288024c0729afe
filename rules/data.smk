"""Datasets that torchvision downloads (mnist, fashion_mnist, cifar10, cifar100).

INPUTS:  none (the network; offline, a missing dataset stops with the files to put in place).
OUTPUTS: <data_root>/<dataset>/.verified, a stamp listing every file with its checksum, written
         only after the download was verified; the data files sit in torchvision's layout.
         <data_root>/<dataset>/decoded.npz, the arrays torchvision decoded (described by the
         stamp, written before it), which jobs read while the files stay as verified.
"""


rule download_dataset:
    output:
        f"{DATA_ROOT}/{{dataset}}/.verified",
    log:
        "logs/data/download_dataset/{dataset}.log",
    conda:
        "../envs/trainlens.yaml"
    params:
        # the data root is the stamp's grandparent: <data_root>/<dataset>/.verified
        data_root=lambda wildcards, output: Path(output[0]).parent.parent,
        checksums=CHECKSUMS_FLAG,
    shell:
        "trainlens download --dataset {wildcards.dataset} --data-root {params.data_root} "
        "{params.checksums} > {log} 2>&1"
