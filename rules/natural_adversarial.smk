rule mine_natural_adversarial:
    input:
        dataset=rules.prepare_dataset.output[0],
        reference=weights_of(support_run(config, "reference")),
        code=stage_sources("natural_adversarial"),
    output:
        f"{R}/data/natural_adversarial.h5",
    log:
        f"{R}/logs/mine_natural_adversarial.log",
    conda:
        ENV
    threads: 1
    params:
        device=config["device"],
        patterns=config["natural_adversarial"]["patterns"],
        severity=config["natural_adversarial"]["severity"],
        variants=config["natural_adversarial"]["variants"],
        max_confidence=config["natural_adversarial"]["max_confidence"],
        seed=config["seed"],
    shell:
        "python -m robustsweep mine --device {params.device} --threads {threads}"
        " --output {output} --dataset {input.dataset}"
        " --reference {input.reference} --patterns {params.patterns}"
        " --severity {params.severity} --variants {params.variants} --seed {params.seed}"
        " --max-confidence {params.max_confidence}"
        " > {log} 2>&1"
