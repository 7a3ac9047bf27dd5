rule logits_cache:
    input:
        unpack(test_stores),
        unpack(corrupted_set),
        weights=f"{R}/{RUN}/weights.safetensors",
        dataset=rules.prepare_dataset.output[0],
        natural=NATURAL,
    output:
        output=f"{R}/{RUN}/logits.h5",
    log:
        f"{R}/logs/logits_cache/{{model}}_N{{n}}_draw{{draw}}_{{defence}}.log",
    conda:
        ENV
    # a file index (ImageNet-A, a val set) is decoded by this many DataLoader workers
    threads: config["threads"]
    resources:
        gpu=config["gpus_per_job"],
    params:
        settings=logits_settings(config),
        code=lambda w: model_code(config, "logits", w.model)["code"],
        methods=lambda w: model_code(config, "logits", w.model)["methods"],
        job=lambda wildcards, input, output, threads: job(input, output, threads),
    shell:
        "python -m robustsweep logits {params.settings:q} {params.job:q} {log:q}"


# evaluation.shards: K > 1 splits a run's attack into K jobs over disjoint chunk ranges (each
# its own GPU job on SLURM); white_box gathers them into the file one job would write
rule white_box_shard:
    input:
        weights=f"{R}/{RUN}/weights.safetensors",
        dataset=rules.prepare_dataset.output[0],
    output:
        output=temp(f"{R}/{RUN}/whitebox/{{attack}}.shard{{shard}}of{{shards}}.h5"),
    log:
        f"{R}/logs/white_box_shard/{{model}}_N{{n}}_draw{{draw}}_{{defence}}_{{attack}}_{{shard}}of{{shards}}.log",
    benchmark:
        f"{R}/benchmarks/white_box_shard/{{model}}_N{{n}}_draw{{draw}}_{{defence}}_{{attack}}_{{shard}}of{{shards}}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        gpu=config["gpus_per_job"],
    params:
        settings=lambda w: white_box_settings(config, w.attack),
        code=lambda w: attack_code(config, "white-box-shard", w.attack, w.model)["code"],
        methods=lambda w: attack_code(config, "white-box-shard", w.attack, w.model)[
            "methods"
        ],
        job=lambda wildcards, input, output, threads: job(
            input,
            output,
            threads,
            shard=int(wildcards.shard),
            shards=int(wildcards.shards),
        ),
    shell:
        "python -m robustsweep white-box-shard {params.settings:q} {params.job:q} {log:q}"


rule white_box:
    input:
        unpack(white_box_shard_files),
        weights=f"{R}/{RUN}/weights.safetensors",
        dataset=rules.prepare_dataset.output[0],
    output:
        output=f"{R}/{RUN}/whitebox/{{attack}}.h5",
    log:
        f"{R}/logs/white_box/{{model}}_N{{n}}_draw{{draw}}_{{defence}}_{{attack}}.log",
    benchmark:
        f"{R}/benchmarks/white_box/{{model}}_N{{n}}_draw{{draw}}_{{defence}}_{{attack}}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        # gathering shards attacks nothing: no GPU
        gpu=lambda w: 0 if white_box_shard_files(w) else config["gpus_per_job"],
    params:
        settings=lambda w: white_box_settings(config, w.attack, run_of(w)),
        code=lambda w: attack_code(config, "white-box", w.attack, w.model)["code"],
        methods=lambda w: attack_code(config, "white-box", w.attack, w.model)["methods"],
        # attacks.min_success only words the log's warning: untracked, as for the store
        job=lambda wildcards, input, output, threads: job(
            input, output, threads, min_success=config["attacks"]["min_success"]
        ),
    shell:
        "python -m robustsweep white-box {params.settings:q} {params.job:q} {log:q}"


rule budget_sweep:
    input:
        weights=f"{R}/{RUN}/weights.safetensors",
        dataset=rules.prepare_dataset.output[0],
    output:
        output=f"{R}/{RUN}/budget_sweep.h5",
    log:
        f"{R}/logs/budget_sweep/{{model}}_N{{n}}_draw{{draw}}_{{defence}}.log",
    benchmark:
        f"{R}/benchmarks/budget_sweep/{{model}}_N{{n}}_draw{{draw}}_{{defence}}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        gpu=config["gpus_per_job"],
    params:
        settings=lambda w: budget_sweep_settings(config),
        code=lambda w: budget_sweep_code(w.model)["code"],
        methods=lambda w: budget_sweep_code(w.model)["methods"],
        job=lambda wildcards, input, output, threads: job(input, output, threads),
    shell:
        "python -m robustsweep budget-sweep {params.settings:q} {params.job:q} {log:q}"


rule evaluate_run:
    input:
        unpack(white_box_files),
        unpack(budget_sweep_file),
        logits=f"{R}/{RUN}/logits.h5",
        # ho2024's Table 2: epochs, final training loss and accuracy
        epoch_log=f"{R}/{RUN}/epochs.csv",
    output:
        output=f"{R}/{RUN}/metrics.csv",
        # per image: right or wrong clean and under each attack (evaluation/worst_case.py)
        per_image=f"{R}/{RUN}/per_image.csv",
    log:
        f"{R}/logs/evaluate_run/{{model}}_N{{n}}_draw{{draw}}_{{defence}}.log",
    conda:
        ENV
    params:
        **job_code("evaluate"),
        settings=lambda w: evaluate_settings(config, run_of(w)),
        job=lambda wildcards, input, output: job(input, output),
    shell:
        "python -m robustsweep evaluate {params.settings:q} {params.job:q} {log:q}"


rule collect_metrics:
    input:
        metrics=[run_path(run, "metrics.csv") for run in RUNS],
    output:
        output=f"{R}/tables/metrics.csv",
    log:
        f"{R}/logs/collect_metrics.log",
    # seconds of work: run on the submitting host, not through the cluster queue
    localrule: True
    conda:
        ENV
    params:
        **job_code("collect"),
        settings="{}",
        job=lambda wildcards, input, output: job(input, output),
    shell:
        "python -m robustsweep collect {params.settings:q} {params.job:q} {log:q}"
