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


rule white_box:
    input:
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
        gpu=config["gpus_per_job"],
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


rule evaluate_run:
    input:
        unpack(white_box_files),
        logits=f"{R}/{RUN}/logits.h5",
        # ho2024's Table 2: epochs, final training loss and accuracy
        epoch_log=f"{R}/{RUN}/epochs.csv",
    output:
        output=f"{R}/{RUN}/metrics.csv",
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
