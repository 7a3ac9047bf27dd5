# Helpers shared by the rules: paths, the study plan and the one command every rule calls.
# The command `python -m robustsweep <stage>` takes two JSON arguments, the job's settings (a
# tracked param, so editing them reruns the job) and the job itself (paths and compute
# placement, derived from input, output and threads, so not tracked). The `code` and
# `methods` params are content digests of the package modules a job runs (code_digest.py).
import json
import shlex

from robustsweep.study_plan import (
    Run,
    attack_code,
    attack_table_settings,
    attacked_sets,
    budget_sweep_runs,
    budget_sweep_settings,
    compute,
    corruption_code,
    corruption_settings,
    evaluate_settings,
    experiment_runs,
    explain_settings,
    explanation_run,
    figure_code,
    figure_settings,
    has_corruptions,
    job_code,
    job_identities,
    logits_settings,
    mining_code,
    mining_settings,
    model_code,
    natural_folder_settings,
    paper_numbers_file,
    pool_size,
    prepare_code,
    prepare_settings,
    record_settings,
    store_settings,
    subset_settings,
    support_run,
    tables_code,
    tables_settings,
    train_code,
    train_settings,
    training_gpus,
    training_processes,
    white_box_settings,
    white_box_shard_file,
    white_box_shards,
)
from robustsweep.training.defences import DEFENCES
from robustsweep.reporting.figures import FIGURES, caption, reads as figure_table
from robustsweep.provenance import git_commit

ENV = "../envs/robustsweep.yaml"
R = config["results"]
RUNS = experiment_runs(config)
POOL = pool_size(config)
CONFIGURED_ATTACKS = config["attacks"]["methods"]
WHITE_BOX = config["evaluation"]["white_box"]
BUDGET_SWEEP_RUNS = budget_sweep_runs(config)
SWEPT_ATTACK = config["evaluation"]["budget_sweep"]["attack"]
NATURAL = f"{R}/data/natural_adversarial.h5"
NATURAL_ROOT = config["natural_adversarial"].get("root")
CORRUPTED = f"{R}/data/corruptions.h5" if has_corruptions(config) else None
SOURCE = support_run(config, "source") if CONFIGURED_ATTACKS else None
RUN = "runs/{model}/N{n}/draw{draw}/{defence}"
# Every rule runs `python -m robustsweep <stage>`; the package is found through PYTHONPATH, set
# in front of each shell command, so a plain clone or a --use-conda environment works as is.
shell.prefix(
    "set -euo pipefail; export PYTHONPATH={}; ".format(
        shlex.quote(f"{workflow.basedir}/workflow")
    )
)


wildcard_constraints:
    model=r"[A-Za-z][A-Za-z0-9_]*",
    defence=r"[A-Za-z][A-Za-z0-9_]*",
    attack=r"[A-Za-z][A-Za-z0-9_]*",
    n=r"\d+",
    draw=r"\d+",
    shard=r"\d+",
    shards=r"\d+",
    split=r"train|test",
    figure="|".join(FIGURES.names()),


def run_of(wildcards):
    return Run(
        wildcards.model, int(wildcards.n), int(wildcards.draw), wildcards.defence
    )


def run_path(run, name):
    return f"{R}/{run.folder}/{name}"


def weights_of(run):
    return run_path(run, "weights.safetensors")


def store_path(split, attack):
    return f"{R}/store/{split}/{attack}.h5"


def defence_of(wildcards):
    return DEFENCES.build(config["defences"][wildcards.defence])


def train_stores(wildcards):
    """Train-split stores the run's defence reads, as inputs named stores__<attack>."""
    names = defence_of(wildcards).stores_needed()
    return {f"stores__{name}": store_path("train", name) for name in names}


def clean_copy(wildcards):
    """The run's `standard` twin, for defences that start from and compare with it."""
    if not defence_of(wildcards).needs_clean_copy:
        return {}
    twin = Run(wildcards.model, int(wildcards.n), int(wildcards.draw), "standard")
    return {"clean_copy": weights_of(twin)}


def test_stores(wildcards=None):
    return {f"stores__{name}": store_path("test", name) for name in CONFIGURED_ATTACKS}


def corrupted_set(wildcards=None):
    """The corrupted test set, for studies that have one."""
    return {"corrupted": CORRUPTED} if CORRUPTED else {}


def white_box_files(wildcards):
    run = run_of(wildcards)
    return {
        f"white_box__{name}": run_path(run, f"whitebox/{name}.h5") for name in WHITE_BOX
    }


def budget_sweep_file(wildcards):
    """The run's budget sweep, for runs of the experiments `evaluation.budget_sweep` lists."""
    run = run_of(wildcards)
    return (
        {"budget_sweep": run_path(run, "budget_sweep.h5")}
        if run in BUDGET_SWEEP_RUNS
        else {}
    )


def budget_sweep_code(model):
    return attack_code(config, "budget-sweep", SWEPT_ATTACK, model)


def white_box_shard_files(wildcards):
    """The shard files a white-box job gathers, as inputs shards__<k>; none for one job."""
    shards = white_box_shards(config, wildcards.attack)
    if shards == 1:
        return {}
    folder = run_of(wildcards).folder
    return {
        f"shards__{k}": f"{R}/"
        + white_box_shard_file(folder, wildcards.attack, k, shards)
        for k in range(shards)
    }


def job(input, output, threads=None, processes=1, **values):
    """The job JSON: every named input and output path (names `group__key` gathered into a
    mapping under `group`), the identity each input must carry and each output is sealed
    with (file_identity.py), for compute jobs the device, thread count and (training) the
    number of data-parallel processes, and `values`.
    """
    paths = {}
    for files in (input, output):
        for name, value in files.items():
            value = list(value) if not isinstance(value, str) else value
            group, _, key = name.partition("__")
            if key:
                paths.setdefault(group, {})[key] = value
            else:
                paths[name] = value
    payload = {
        "paths": paths,
        "outputs": [str(path) for path in output],
        **job_identities(config, dict(input.items()), dict(output.items())),
    }
    if threads is not None:
        payload["compute"] = vars(compute(config, threads, processes))
    if values:
        payload["values"] = values
    return json.dumps(payload, sort_keys=True)


def attacked_files():
    """Every store and white-box file, in the order of the attack table's settings."""
    return [f"{R}/{attacked.file}" for attacked in attacked_sets(config)]


def figure_inputs(wildcards):
    """The table a figure is drawn from: the metric table, or the attack table."""
    table = figure_table(wildcards.figure)
    return {table: f"{R}/tables/{table}.csv"}


def explained_run(model):
    return explanation_run(config, model)


def final_outputs():
    extension = config["figures"]["format"]
    return [
        f"{R}/study_record.json",
        f"{R}/tables/metrics.csv",
        f"{R}/tables/attacks.csv",
        f"{R}/tables/tables.md",
        *[f"{R}/figures/{kind}.{extension}" for kind in FIGURES.names()],
        *[
            f"{R}/figures/explanations/{model}.{extension}"
            for model in config["explanations"]["models"]
        ],
    ]
