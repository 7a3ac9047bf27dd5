rule class_subset:
    input:
        dataset=rules.prepare_dataset.output[0],
    output:
        output=study.file(layout.SUBSET),
    log:
        study.log("class_subset", layout.SUBSET_JOB_NAME),
    # seconds of work: run on the submitting host, not through the cluster queue
    localrule: True
    conda:
        ENV
    params:
        **study.params("subset"),
        job=lambda wildcards, input, output: study.job(input, output),
    shell:
        "python -m robustsweep subset {params.settings:q} {params.job:q} {log:q}"
