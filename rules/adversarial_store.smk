rule adversarial_store:
    input:
        dataset=rules.prepare_dataset.output[0],
        source=weights_of(SOURCE) if SOURCE else [],
    output:
        output=f"{R}/store/{{split}}/{{attack}}.h5",
    log:
        f"{R}/logs/adversarial_store/{{split}}_{{attack}}.log",
    benchmark:
        f"{R}/benchmarks/adversarial_store/{{split}}_{{attack}}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        gpu=config["gpus_per_job"],
    params:
        settings=lambda w: store_settings(config, w.split, w.attack),
        code=lambda w: attack_code(config, "store", w.attack, SOURCE.model)["code"],
        methods=lambda w: attack_code(config, "store", w.attack, SOURCE.model)[
            "methods"
        ],
        # attacks.min_success only words the log's warning: untracked, never reruns a store
        job=lambda wildcards, input, output, threads: job(
            input, output, threads, min_success=config["attacks"]["min_success"]
        ),
    shell:
        "python -m robustsweep store {params.settings:q} {params.job:q} {log:q}"
