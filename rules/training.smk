rule train_model:
    input:
        unpack(train_stores),
        unpack(clean_copy),
        dataset=rules.prepare_dataset.output[0],
        subset=f"{R}/subsets/N{{n}}/seed{{seed}}.json",
        code=stage_sources("training"),
    output:
        weights=f"{R}/runs/{{model}}/N{{n}}/seed{{seed}}/{{defence}}/weights.safetensors",
        epochs=f"{R}/runs/{{model}}/N{{n}}/seed{{seed}}/{{defence}}/epochs.csv",
    log:
        f"{R}/logs/train_model/{{model}}_N{{n}}_seed{{seed}}_{{defence}}.log",
    benchmark:
        f"{R}/benchmarks/train_model/{{model}}_N{{n}}_seed{{seed}}_{{defence}}.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=config["gpus_per_job"],
    params:
        device=config["device"],
        model=lambda wildcards: as_json(config["models"][wildcards.model]),
        recipe=as_json(config["training"]),
        defence=lambda wildcards: as_json(defence_spec(wildcards.defence)),
        stores=lambda wildcards, input: named_paths(
            {name: input[name] for name in train_stores(wildcards)}
        ),
        clean_copy=clean_copy_option,
    shell:
        "python -m robustsweep train --device {params.device} --threads {threads}"
        " --weights {output.weights} --epoch-log {output.epochs}"
        " --dataset {input.dataset} --subset {input.subset} --model {params.model:q}"
        " --recipe {params.recipe:q} --defence {params.defence:q} --store {params.stores}"
        " {params.clean_copy} --seed {wildcards.seed} > {log} 2>&1"
