rule adversarial_store:
    input:
        dataset=rules.prepare_dataset.output[0],
        surrogate=study.surrogate_weights(),
    output:
        output=study.file(layout.STORE),
    log:
        study.log("adversarial_store", layout.STORE_JOB_NAME),
    benchmark:
        study.benchmark("adversarial_store", layout.STORE_JOB_NAME)
    conda:
        ENV
    threads: 1
    resources:
        gpu=config["gpus_per_job"],
    params:
        **study.params("store"),
        # attacks.min_success only words the log's warning: untracked, never reruns a store
        job=lambda wildcards, input, output, threads: study.job(
            input, output, threads, min_success=config["attacks"]["min_success"]
        ),
    shell:
        "python -m robustsweep store {params.settings:q} {params.job:q} {log:q}"
