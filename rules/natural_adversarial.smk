# A natural adversarial set on disk (ImageNet-A) is indexed; otherwise one is mined.
if NATURAL_ROOT:

    rule index_natural_adversarial:
        input:
            dataset=rules.prepare_dataset.output[0],
            code=stage_sources("natural_adversarial"),
        output:
            NATURAL,
        log:
            f"{R}/logs/index_natural_adversarial.log",
        # seconds of work: run on the submitting host, not through the cluster queue
        localrule: True
        conda:
            ENV
        params:
            root=NATURAL_ROOT,
            name=config["natural_adversarial"]["name"],
        shell:
            "python -m robustsweep natural-index --output {output} --dataset {input.dataset}"
            " --root {params.root:q} --name {params.name} > {log} 2>&1"

else:

    rule mine_natural_adversarial:
        input:
            dataset=rules.prepare_dataset.output[0],
            reference=weights_of(support_run(config, "reference")),
            code=stage_sources("natural_adversarial"),
        output:
            NATURAL,
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
