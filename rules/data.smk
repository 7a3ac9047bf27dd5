rule prepare_dataset:
    output:
        output=f"{R}/data/dataset.h5",
    log:
        f"{R}/logs/prepare_dataset.log",
    conda:
        ENV
    params:
        **prepare_code(config),
        settings=prepare_settings(config),
        job=lambda wildcards, input, output: job(input, output),
    shell:
        "python -m robustsweep prepare {params.settings:q} {params.job:q} > {log:q} 2>&1"
