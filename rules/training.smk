rule train_model:
    input:
        unpack(study.train_stores),
        unpack(study.clean_copy),
        dataset=rules.prepare_dataset.output[0],
        subset=study.file(layout.SUBSET),
    output:
        weights=study.run_template(layout.WEIGHTS),
        last_weights=study.run_template(layout.LAST_WEIGHTS),
        epoch_log=study.run_template(layout.EPOCH_LOG),
    log:
        study.log("train_model", layout.RUN_JOB_NAME),
    benchmark:
        study.benchmark("train_model", layout.RUN_JOB_NAME)
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=study.training_gpus,
    params:
        **study.params("train"),
        job=lambda wildcards, input, output, threads: study.job(
            input, output, threads, processes=study.training_processes(wildcards)
        ),
    shell:
        "python -m robustsweep train {params.settings:q} {params.job:q} {log:q}"
