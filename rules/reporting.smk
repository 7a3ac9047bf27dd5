rule collect_attacks:
    input:
        files=attacked_files(),
    output:
        output=f"{R}/tables/attacks.csv",
    log:
        f"{R}/logs/collect_attacks.log",
    # reads HDF5 attributes only: run on the submitting host, not through the cluster queue
    localrule: True
    conda:
        ENV
    params:
        **job_code("collect-attacks"),
        settings=attack_table_settings(config),
        job=lambda wildcards, input, output: job(input, output),
    shell:
        "python -m robustsweep collect-attacks {params.settings:q} {params.job:q} {log:q}"


rule paper_tables:
    input:
        # the paper's published numbers (reproduction.paper_numbers), when the study names them
        unpack(lambda wildcards: paper_numbers_file(config)),
        metrics=rules.collect_metrics.output[0],
        attacks=rules.collect_attacks.output[0],
    output:
        output=f"{R}/tables/tables.md",
        html=report(
            f"{R}/tables/tables.html",
            caption="../workflow/report/tables.rst",
            category="Tables",
        ),
    log:
        f"{R}/logs/paper_tables.log",
    # seconds of work: run on the submitting host, not through the cluster queue
    localrule: True
    conda:
        ENV
    params:
        **tables_code(),
        settings=tables_settings(config),
        job=lambda wildcards, input, output: job(input, output),
    shell:
        "python -m robustsweep tables {params.settings:q} {params.job:q} {log:q}"


rule figure:
    input:
        unpack(figure_inputs),
    output:
        output=report(
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
        settings=lambda w: figure_settings(config, w.figure),
        code=lambda w: figure_code(w.figure)["code"],
        methods=lambda w: figure_code(w.figure)["methods"],
        # the caption is the figure function's docstring, so it is written in one place
        caption=lambda w: caption(w.figure),
        job=lambda wildcards, input, output: job(input, output),
    shell:
        "python -m robustsweep figure {params.settings:q} {params.job:q} {log:q}"


rule explain_mistakes:
    input:
        weights=lambda w: weights_of(explained_run(w.model)),
        logits=lambda w: run_path(explained_run(w.model), "logits.h5"),
        natural=NATURAL,
        dataset=rules.prepare_dataset.output[0],
    output:
        output=report(
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
        settings=explain_settings(config),
        code=lambda w: model_code(config, "explain", w.model)["code"],
        methods=lambda w: model_code(config, "explain", w.model)["methods"],
        job=lambda wildcards, input, output: job(input, output),
    shell:
        "python -m robustsweep explain {params.settings:q} {params.job:q} {log:q}"


rule study_record:
    input:
        metrics=rules.collect_metrics.output[0],
    output:
        output=f"{R}/study_record.json",
    log:
        f"{R}/logs/study_record.log",
    # seconds of work: run on the submitting host, not through the cluster queue
    localrule: True
    conda:
        ENV
    params:
        **job_code("record"),
        settings=record_settings(config),
        job=lambda wildcards, input, output: job(
            input, output, commit=git_commit(workflow.basedir)
        ),
    shell:
        "python -m robustsweep record {params.settings:q} {params.job:q} {log:q}"
