rule adversarial_store:
    input:
        dataset=rules.prepare_dataset.output[0],
        source=weights_of(support_run(config, "source")),
        code=stage_sources("adversarial_store"),
    output:
        f"{R}/store/{{split}}/{{attack}}.h5",
    log:
        f"{R}/logs/adversarial_store/{{split}}_{{attack}}.log",
    benchmark:
        f"{R}/benchmarks/adversarial_store/{{split}}_{{attack}}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        gpu=config["gpus_per_job"],
    params:
        device=config["device"],
        spec=lambda wildcards: as_json(ATTACKS[wildcards.attack]),
        batch_size=config["attacks"]["batch_size"],
        seed=config["seed"],
    shell:
        "python -m robustsweep store --device {params.device} --threads {threads}"
        " --output {output} --dataset {input.dataset}"
        " --source {input.source} --split {wildcards.split} --attack {wildcards.attack}"
        " --spec {params.spec:q} --batch-size {params.batch_size} --seed {params.seed}"
        " > {log} 2>&1"
