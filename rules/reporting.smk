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
