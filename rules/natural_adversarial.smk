# A natural adversarial set on disk (ImageNet-A) is indexed; otherwise one is mined.
if study.natural_root:

    rule index_natural_adversarial:
        input:
            dataset=rules.prepare_dataset.output[0],
        output:
            output=study.natural,
        log:
            study.log("index_natural_adversarial"),
        # seconds of work: run on the submitting host, not through the cluster queue
        localrule: True
        conda:
            ENV
        params:
            **study.params("natural_index"),
            job=lambda wildcards, input, output: study.job(input, output),
        shell:
            "python -m robustsweep natural_index {params.settings:q} {params.job:q}"
            " {log:q}"

else:

    rule mine_natural_adversarial:
        input:
            dataset=rules.prepare_dataset.output[0],
            surrogate=study.mining_surrogate_weights(),
        output:
            output=study.natural,
        log:
            study.log("mine_natural_adversarial"),
        conda:
            ENV
        threads: 1
        params:
            **study.params("mine"),
            job=lambda wildcards, input, output, threads: study.job(
                input, output, threads
            ),
        shell:
            "python -m robustsweep mine {params.settings:q} {params.job:q} {log:q}"
