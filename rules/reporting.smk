rule collect_attacks:
    input:
        files=study.attacked_files(),
    output:
        output=study.file(layout.ATTACK_TABLE),
    log:
        study.log("collect_attacks"),
    # reads HDF5 attributes only: run on the submitting host, not through the cluster queue
    localrule: True
    conda:
        ENV
    params:
        **study.params("collect_attacks"),
        job=lambda wildcards, input, output: study.job(input, output),
    shell:
        "python -m robustsweep collect_attacks {params.settings:q} {params.job:q} {log:q}"


rule paper_tables:
    input:
        # the paper's published numbers (reproduction.paper_numbers), when the study names them
        unpack(study.paper_numbers),
        metrics=rules.collect_metrics.output[0],
        attacks=rules.collect_attacks.output[0],
    output:
        output=study.file(layout.TABLES_MARKDOWN),
        html=report(
            study.file(layout.TABLES_HTML),
            caption="../workflow/report/tables.rst",
            category="Tables",
        ),
    log:
        study.log("paper_tables"),
    # seconds of work: run on the submitting host, not through the cluster queue
    localrule: True
    conda:
        ENV
    params:
        **study.params("tables"),
        job=lambda wildcards, input, output: study.job(input, output),
    shell:
        "python -m robustsweep tables {params.settings:q} {params.job:q} {log:q}"


rule figure:
    input:
        unpack(study.figure_inputs),
    output:
        output=report(
            study.figure("{figure}"),
            caption="../workflow/report/figure.rst",
            category="Figures",
        ),
    log:
        study.log("figure", "{figure}"),
    # seconds of work: run on the submitting host, not through the cluster queue
    localrule: True
    conda:
        ENV
    params:
        **study.params("figure"),
        # the caption is the figure function's docstring, so it is written in one place
        caption=study.figure_caption,
        job=lambda wildcards, input, output: study.job(input, output),
    shell:
        "python -m robustsweep figure {params.settings:q} {params.job:q} {log:q}"


rule explain_mistakes:
    input:
        unpack(study.explanation_inputs),
        natural=study.natural,
        dataset=rules.prepare_dataset.output[0],
    output:
        output=report(
            study.explanation(),
            caption="../workflow/report/explanations.rst",
            category="Grad-CAM",
        ),
    log:
        study.log("explain_mistakes", "{model}"),
    conda:
        ENV
    threads: 1
    params:
        **study.params("explain"),
        job=lambda wildcards, input, output: study.job(input, output),
    shell:
        "python -m robustsweep explain {params.settings:q} {params.job:q} {log:q}"


rule study_record:
    input:
        metrics=rules.collect_metrics.output[0],
    output:
        output=study.file(layout.STUDY_RECORD),
    log:
        study.log("study_record"),
    # seconds of work: run on the submitting host, not through the cluster queue
    localrule: True
    conda:
        ENV
    params:
        **study.params("record"),
        job=lambda wildcards, input, output: study.job(
            input, output, commit=study.commit(workflow.basedir)
        ),
    shell:
        "python -m robustsweep record {params.settings:q} {params.job:q} {log:q}"
