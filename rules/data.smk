rule prepare_dataset:
    output:
        output=study.file(layout.DATASET),
    log:
        study.log("prepare_dataset"),
    conda:
        ENV
    # an image folder's files are each decoded once (a check) by this many threads
    threads: config["threads"]
    params:
        **study.params("prepare"),
        job=lambda wildcards, input, output, threads: study.job(input, output, threads),
    shell:
        "python -m robustsweep prepare {params.settings:q} {params.job:q} {log:q}"


# A corrupted copy of the test split (CIFAR-10-C, or generated corruptions), made once.
if study.corrupted:

    rule corruption_set:
        input:
            dataset=rules.prepare_dataset.output[0],
        output:
            output=study.corrupted,
        log:
            study.log("corruption_set"),
        conda:
            ENV
        # generated corruptions are made by this many worker processes
        threads: config["threads"]
        params:
            **study.params("corrupt"),
            job=lambda wildcards, input, output, threads: study.job(
                input, output, threads
            ),
        shell:
            "python -m robustsweep corrupt {params.settings:q} {params.job:q} {log:q}"
