rule prepare_dataset:
    input:
        code=stage_sources("prepared_dataset"),
    output:
        f"{R}/data/dataset.h5",
    log:
        f"{R}/logs/prepare_dataset.log",
    conda:
        ENV
    params:
        dataset=as_json(config["dataset"]),
        seed=config["seed"],
    shell:
        "python -m robustsweep prepare --output {output} --dataset {params.dataset:q}"
        " --seed {params.seed} > {log} 2>&1"
