rule train_model:
    input:
        unpack(train_stores),
        unpack(clean_copy),
        dataset=rules.prepare_dataset.output[0],
        subset=f"{R}/subsets/N{{n}}/draw{{draw}}.json",
    output:
        weights=f"{R}/{RUN}/weights.safetensors",
        last_weights=f"{R}/{RUN}/last.safetensors",
        epoch_log=f"{R}/{RUN}/epochs.csv",
    log:
        f"{R}/logs/train_model/{{model}}_N{{n}}_draw{{draw}}_{{defence}}.log",
    benchmark:
        f"{R}/benchmarks/train_model/{{model}}_N{{n}}_draw{{draw}}_{{defence}}.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=lambda w: training_gpus(config, run_of(w)),
    params:
        settings=lambda w: train_settings(config, run_of(w)),
        code=lambda w: train_code(config, run_of(w))["code"],
        methods=lambda w: train_code(config, run_of(w))["methods"],
        job=lambda wildcards, input, output, threads: job(
            input,
            output,
            threads,
            processes=training_processes(config, run_of(wildcards)),
        ),
    shell:
        "python -m robustsweep train {params.settings:q} {params.job:q} {log:q}"
