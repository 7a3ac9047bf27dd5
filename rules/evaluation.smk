rule logits_cache:
    input:
        unpack(lambda wildcards: test_stores()),
        weights=f"{R}/runs/{{model}}/N{{n}}/seed{{seed}}/{{defence}}/weights.safetensors",
        dataset=rules.prepare_dataset.output[0],
        natural=NATURAL,
        code=stage_sources("logits_cache"),
    output:
        f"{R}/runs/{{model}}/N{{n}}/seed{{seed}}/{{defence}}/logits.h5",
    log:
        f"{R}/logs/logits_cache/{{model}}_N{{n}}_seed{{seed}}_{{defence}}.log",
    conda:
        ENV
    # a file index (ImageNet-A, a val set) is decoded by this many DataLoader workers
    threads: config["threads"]
    resources:
        gpu=config["gpus_per_job"],
    params:
        device=config["device"],
        stores=named_paths(test_stores()),
        white_box=as_json(white_box_attacks()),
        attack_batch_size=config["attacks"]["batch_size"],
        seed=config["evaluation"]["seed"],
        masking=as_json(config["evaluation"]["masking_checks"]),
    shell:
        "python -m robustsweep logits --device {params.device} --threads {threads}"
        " --output {output} --weights {input.weights}"
        " --dataset {input.dataset} --natural {input.natural} --store {params.stores}"
        " --white-box {params.white_box:q} --attack-batch-size {params.attack_batch_size}"
        " --seed {params.seed} --masking {params.masking:q} > {log} 2>&1"


rule evaluate_run:
    input:
        logits=f"{R}/runs/{{model}}/N{{n}}/seed{{seed}}/{{defence}}/logits.h5",
        code=stage_sources("evaluation"),
    output:
        f"{R}/runs/{{model}}/N{{n}}/seed{{seed}}/{{defence}}/metrics.csv",
    log:
        f"{R}/logs/evaluate_run/{{model}}_N{{n}}_seed{{seed}}_{{defence}}.log",
    conda:
        ENV
    params:
        run=lambda wildcards: as_json(run_of(wildcards).identity()),
        m_values=lambda wildcards: predicted_class_values(config, run_of(wildcards)),
        trials=config["evaluation"]["trials"],
        seed=config["evaluation"]["seed"],
        hybrid=config["evaluation"]["hybrid_fractions"],
    shell:
        "python -m robustsweep evaluate --output {output} --logits {input.logits}"
        " --run {params.run:q}"
        " --m-values {params.m_values} --trials {params.trials} --seed {params.seed}"
        " --hybrid-fractions {params.hybrid} > {log} 2>&1"


rule collect_metrics:
    input:
        metrics=[run_path(run, "metrics.csv") for run in RUNS],
        code=stage_sources("paper_tables"),
    output:
        f"{R}/tables/metrics.csv",
    log:
        f"{R}/logs/collect_metrics.log",
    # seconds of work: run on the submitting host, not through the cluster queue
    localrule: True
    conda:
        ENV
    shell:
        "python -m robustsweep collect --output {output} {input.metrics} > {log} 2>&1"
