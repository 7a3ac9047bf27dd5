rule class_subset:
    input:
        dataset=rules.prepare_dataset.output[0],
        code=stage_sources("class_subsets", "prepared_dataset"),
    output:
        f"{R}/subsets/N{{n}}/seed{{seed}}.json",
    log:
        f"{R}/logs/class_subset/N{{n}}_seed{{seed}}.log",
    # seconds of work: run on the submitting host, not through the cluster queue
    localrule: True
    conda:
        ENV
    params:
        study_seed=config["seed"],
    shell:
        "python -m robustsweep subset --dataset {input.dataset} --output {output} --n {wildcards.n}"
        " --study-seed {params.study_seed} --draw-seed {wildcards.seed} > {log} 2>&1"
