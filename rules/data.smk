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
