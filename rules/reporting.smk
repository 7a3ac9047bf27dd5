rule paper_tables:
    input:
        metrics=rules.collect_metrics.output[0],
        code=stage_sources("paper_tables"),
    output:
        f"{R}/tables/tables.md",
    log:
        f"{R}/logs/paper_tables.log",
    # seconds of work: run on the submitting host, not through the cluster queue
    localrule: True
    conda:
        ENV
    params:
        pool=POOL,
    shell:
        "python -m robustsweep tables --metrics {input.metrics} --output {output}"
        " --pool-size {params.pool}"
        " > {log} 2>&1"


rule figure:
    input:
        metrics=rules.collect_metrics.output[0],
        code=stage_sources("figures"),
    output:
        report(
            f"{R}/figures/{{figure}}.{config['figures']['format']}",
            caption="../workflow/report/figure.rst",
            category="Figures",
        ),
    log:
        f"{R}/logs/figure/{{figure}}.log",
    # seconds of work: run on the submitting host, not through the cluster queue
    localrule: True
    conda:
        ENV
    params:
        style=as_json(config["figures"]),
        # the caption is the figure function's docstring, so it is written in one place
        caption=lambda wildcards: caption(wildcards.figure),
    shell:
        "python -m robustsweep figure {wildcards.figure} --metrics {input.metrics}"
        " --output {output}"
        " --style {params.style:q} > {log} 2>&1"


rule explain_mistakes:
    input:
        weights=lambda wildcards: weights_of(explained_run(wildcards.model)),
        logits=lambda wildcards: run_path(explained_run(wildcards.model), "logits.h5"),
        natural=NATURAL,
        dataset=rules.prepare_dataset.output[0],
        code=stage_sources("mistake_explanations"),
    output:
        report(
            f"{R}/figures/explanations/{{model}}.{config['figures']['format']}",
            caption="../workflow/report/explanations.rst",
            category="Grad-CAM",
        ),
    log:
        f"{R}/logs/explain_mistakes/{{model}}.log",
    conda:
        ENV
    threads: 1
    params:
        top_k=config["explanations"]["top_k"],
        style=as_json(config["figures"]),
    shell:
        "python -m robustsweep explain --output {output} --weights {input.weights}"
        " --logits {input.logits} --natural {input.natural} --dataset {input.dataset}"
        " --top-k {params.top_k} --style {params.style:q} > {log} 2>&1"


rule study_record:
    input:
        code=stage_sources("provenance"),
    output:
        f"{R}/study_record.json",
    log:
        f"{R}/logs/study_record.log",
    # seconds of work: run on the submitting host, not through the cluster queue
    localrule: True
    conda:
        ENV
    params:
        config=as_json(config),
        commit=git_commit(workflow.basedir),
    shell:
        "python -m robustsweep record --output {output} --config {params.config:q}"
        " --commit {params.commit} > {log} 2>&1"
