rule prepare_dataset:
    output:
        output=f"{R}/data/dataset.h5",
    log:
        f"{R}/logs/prepare_dataset.log",
    conda:
        ENV
    # an image folder's files are each decoded once (a check) by this many threads
    threads: config["threads"]
    params:
        **prepare_code(config),
        settings=prepare_settings(config),
        job=lambda wildcards, input, output, threads: job(input, output, threads),
    shell:
        "python -m robustsweep prepare {params.settings:q} {params.job:q} {log:q}"


# A corrupted copy of the test split (CIFAR-10-C, or generated corruptions), made once.
if CORRUPTED:

    rule corruption_set:
        input:
            dataset=rules.prepare_dataset.output[0],
        output:
            output=CORRUPTED,
        log:
            f"{R}/logs/corruption_set.log",
        conda:
            ENV
        # generated corruptions are made by this many worker processes
        threads: config["threads"]
        params:
            **corruption_code(config),
            settings=corruption_settings(config),
            job=lambda wildcards, input, output, threads: job(input, output, threads),
        shell:
            "python -m robustsweep corrupt {params.settings:q} {params.job:q} {log:q}"
