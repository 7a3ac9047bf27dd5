# A natural adversarial set on disk (ImageNet-A) is indexed; otherwise one is mined.
if NATURAL_ROOT:

    rule index_natural_adversarial:
        input:
            dataset=rules.prepare_dataset.output[0],
        output:
            output=NATURAL,
        log:
            f"{R}/logs/index_natural_adversarial.log",
        # seconds of work: run on the submitting host, not through the cluster queue
        localrule: True
        conda:
            ENV
        params:
            **job_code("natural-index"),
            settings=natural_folder_settings(config),
            job=lambda wildcards, input, output: job(input, output),
        shell:
            "python -m robustsweep natural-index {params.settings:q} {params.job:q}"
            " {log:q}"

else:

    rule mine_natural_adversarial:
        input:
            dataset=rules.prepare_dataset.output[0],
            reference=weights_of(support_run(config, "reference")),
        output:
            output=NATURAL,
        log:
            f"{R}/logs/mine_natural_adversarial.log",
        conda:
            ENV
        threads: 1
        params:
            **mining_code(config),
            settings=mining_settings(config),
            job=lambda wildcards, input, output, threads: job(input, output, threads),
        shell:
            "python -m robustsweep mine {params.settings:q} {params.job:q} {log:q}"
