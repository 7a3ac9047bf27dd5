rule logits_cache:
    input:
        unpack(study.test_stores),
        unpack(study.corrupted_set),
        weights=study.run_template(layout.WEIGHTS),
        dataset=rules.prepare_dataset.output[0],
        natural=study.natural,
    output:
        output=study.run_template(layout.LOGITS),
    log:
        study.log("logits_cache", layout.RUN_JOB_NAME),
    conda:
        ENV
    # a file index (ImageNet-A, a val set) is decoded by this many DataLoader workers
    threads: config["threads"]
    resources:
        gpu=config["gpus_per_job"],
    params:
        **study.params("logits"),
        job=lambda wildcards, input, output, threads: study.job(input, output, threads),
    shell:
        "python -m robustsweep logits {params.settings:q} {params.job:q} {log:q}"


# evaluation.shards: K > 1 splits a run's attack into K jobs over disjoint chunk ranges (each
# its own GPU job on SLURM); white_box gathers them into the file one job would write
rule white_box_shard:
    input:
        weights=study.run_template(layout.WEIGHTS),
        dataset=rules.prepare_dataset.output[0],
    output:
        output=temp(study.run_template(layout.WHITE_BOX_SHARD)),
    log:
        study.log("white_box_shard", layout.WHITE_BOX_SHARD_JOB_NAME),
    benchmark:
        study.benchmark("white_box_shard", layout.WHITE_BOX_SHARD_JOB_NAME)
    conda:
        ENV
    threads: 1
    resources:
        gpu=config["gpus_per_job"],
    params:
        **study.params("white_box_shard"),
        job=lambda wildcards, input, output, threads: study.job(
            input,
            output,
            threads,
            shard=int(wildcards.shard),
            shards=int(wildcards.shards),
        ),
    shell:
        "python -m robustsweep white_box_shard {params.settings:q} {params.job:q} {log:q}"


rule white_box:
    input:
        unpack(study.white_box_shard_files),
        weights=study.run_template(layout.WEIGHTS),
        dataset=rules.prepare_dataset.output[0],
    output:
        output=study.run_template(layout.WHITE_BOX),
    log:
        study.log("white_box", layout.WHITE_BOX_JOB_NAME),
    benchmark:
        study.benchmark("white_box", layout.WHITE_BOX_JOB_NAME)
    conda:
        ENV
    threads: 1
    resources:
        gpu=study.white_box_gpus,
    params:
        **study.params("white_box"),
        # attacks.min_success only words the log's warning: untracked, as for the store
        job=lambda wildcards, input, output, threads: study.job(
            input, output, threads, min_success=config["attacks"]["min_success"]
        ),
    shell:
        "python -m robustsweep white_box {params.settings:q} {params.job:q} {log:q}"


rule budget_sweep:
    input:
        weights=study.run_template(layout.WEIGHTS),
        dataset=rules.prepare_dataset.output[0],
    output:
        output=study.run_template(layout.BUDGET_SWEEP),
    log:
        study.log("budget_sweep", layout.RUN_JOB_NAME),
    benchmark:
        study.benchmark("budget_sweep", layout.RUN_JOB_NAME)
    conda:
        ENV
    threads: 1
    resources:
        gpu=config["gpus_per_job"],
    params:
        **study.params("budget_sweep"),
        job=lambda wildcards, input, output, threads: study.job(input, output, threads),
    shell:
        "python -m robustsweep budget_sweep {params.settings:q} {params.job:q} {log:q}"


rule evaluate_run:
    input:
        unpack(study.white_box_files),
        unpack(study.budget_sweep_file),
        logits=study.run_template(layout.LOGITS),
        # ho2024's Table 2: epochs, final training loss and accuracy
        epoch_log=study.run_template(layout.EPOCH_LOG),
    output:
        output=study.run_template(layout.METRICS),
        # per image: right or wrong clean and under each attack (evaluation/worst_case.py)
        per_image=study.run_template(layout.PER_IMAGE),
    log:
        study.log("evaluate_run", layout.RUN_JOB_NAME),
    conda:
        ENV
    params:
        **study.params("evaluate"),
        job=lambda wildcards, input, output: study.job(input, output),
    shell:
        "python -m robustsweep evaluate {params.settings:q} {params.job:q} {log:q}"


rule collect_metrics:
    input:
        metrics=study.every_run_file(layout.METRICS),
    output:
        output=study.file(layout.METRIC_TABLE),
    log:
        study.log("collect_metrics"),
    # seconds of work: run on the submitting host, not through the cluster queue
    localrule: True
    conda:
        ENV
    params:
        **study.params("collect"),
        job=lambda wildcards, input, output: study.job(input, output),
    shell:
        "python -m robustsweep collect {params.settings:q} {params.job:q} {log:q}"
