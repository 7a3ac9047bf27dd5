rule class_subset:
    input:
        dataset=rules.prepare_dataset.output[0],
    output:
        output=f"{R}/subsets/N{{n}}/draw{{draw}}.json",
    log:
        f"{R}/logs/class_subset/N{{n}}_draw{{draw}}.log",
    # seconds of work: run on the submitting host, not through the cluster queue
    localrule: True
    conda:
        ENV
    params:
        **job_code("subset"),
        settings=lambda w: subset_settings(config, int(w.n), int(w.draw)),
        job=lambda wildcards, input, output: job(input, output),
    shell:
        "python -m robustsweep subset {params.settings:q} {params.job:q} {log:q}"
