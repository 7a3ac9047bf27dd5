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
        source=config["dataset"]["source"],
        image_size=config["dataset"]["image_size"],
        splits=as_json(config["dataset"]["splits"]),
        seed=config["seed"],
    shell:
        "python -m robustsweep prepare --output {output} --source {params.source}"
        " --image-size {params.image_size} --splits {params.splits:q} --seed {params.seed}"
        " > {log} 2>&1"
