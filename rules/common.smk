# Helpers shared by the rules: paths, the study plan and the one command every rule calls.
import json
import shlex

from robustsweep.study_plan import (
    Run,
    experiment_runs,
    explanation_run,
    pool_size,
    predicted_class_values,
    support_run,
)
from robustsweep.defences import needs_clean_copy, stores_needed
from robustsweep.figures import FIGURES, caption
from robustsweep.provenance import git_commit
from robustsweep.stage_sources import stage_sources

ENV = "../envs/robustsweep.yaml"
R = config["results"]
RUNS = experiment_runs(config)
POOL = pool_size(config)
ATTACKS = config["attacks"]["methods"]
NATURAL = f"{R}/data/natural_adversarial.h5"
NATURAL_ROOT = config["natural_adversarial"].get("root")
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
    seed=r"\d+",
    split=r"train|test",
    figure="|".join(FIGURES),


def as_json(value):
    """Stable JSON for params: equal settings give equal strings, so no spurious reruns."""
    return json.dumps(value, sort_keys=True)


def run_of(wildcards):
    return Run(
        wildcards.model, int(wildcards.n), int(wildcards.seed), wildcards.defence
    )


def run_path(run, name):
    return f"{R}/{run.folder}/{name}"


def weights_of(run):
    return run_path(run, "weights.safetensors")


def store_path(split, attack):
    return f"{R}/store/{split}/{attack}.h5"


def defence_spec(name):
    return config["defences"][name]


def train_stores(wildcards):
    """Train-split stores the run's defence reads, by attack name."""
    names = stores_needed(defence_spec(wildcards.defence))
    return {name: store_path("train", name) for name in names}


def clean_copy(wildcards):
    """The run's `standard` twin, for defences that start from and compare with it."""
    if not needs_clean_copy(defence_spec(wildcards.defence)):
        return {}
    twin = Run(wildcards.model, int(wildcards.n), int(wildcards.seed), "standard")
    return {"clean_copy": weights_of(twin)}


def clean_copy_option(wildcards, input):
    return (
        f"--clean-copy {shlex.quote(input.clean_copy)}"
        if "clean_copy" in input.keys()
        else ""
    )


def named_paths(paths):
    """name=path arguments for the CLI's --store option."""
    return " ".join(shlex.quote(f"{name}={path}") for name, path in paths.items())


def test_stores():
    return {name: store_path("test", name) for name in ATTACKS}


def white_box_attacks():
    """Attacks run against each trained model at evaluation time (evaluation.white_box)."""
    return {name: ATTACKS[name] for name in config["evaluation"]["white_box"]}


def explained_run(model):
    return explanation_run(config, model)


def final_outputs():
    extension = config["figures"]["format"]
    return [
        f"{R}/study_record.json",
        f"{R}/tables/metrics.csv",
        f"{R}/tables/tables.md",
        *[f"{R}/figures/{kind}.{extension}" for kind in FIGURES],
        *[
            f"{R}/figures/explanations/{model}.{extension}"
            for model in config["explanations"]["models"]
        ],
    ]
