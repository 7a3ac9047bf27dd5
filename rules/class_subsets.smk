rule class_subset:
    input:
        rules.prepare_dataset.output[0],
    output:
        f"{R}/subsets/N{{n}}/seed{{seed}}.json",
    log:
        f"{R}/logs/class_subset/N{{n}}_seed{{seed}}.log",
    conda:
        ENV
    params:
        study_seed=config["seed"],
    shell:
        "python -m robustsweep subset --dataset {input} --output {output} --n {wildcards.n}"
        " --study-seed {params.study_seed} --draw-seed {wildcards.seed} > {log} 2>&1"
