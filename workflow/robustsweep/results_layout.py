"""Where every file of a results folder lives and how its names are spelt, written once.

A results folder holds, relative to its root:

    data/dataset.h5, data/natural_adversarial.h5, data/corruptions.h5   prepared data
    subsets/N<n>/draw<draw>.json                                        class subsets
    store/<split>/<attack>.h5                                           adversarial stores
    runs/<model>/N<n>/draw<draw>/<defence>/                             one training run:
        weights.safetensors, last.safetensors, epochs.csv, logits.h5,
        white_box/<attack>.h5 (and its .shard<k>of<K>.h5 parts),
        budget_sweep.h5, metrics.csv, per_image.csv
    tables/metrics.csv, tables/attacks.csv, tables/tables.md, tables/tables.html
    figures/<figure>.<format>, figures/explanations/<model>.<format>
    study_record.json, logs/<rule>/..., benchmarks/<rule>/...

Templates use `{wildcard}` fields, so the same string is a Snakemake output pattern (the
rules), a `str.format` template (Run.folder, AttackedSet.file) and, through `pattern`, the
regex that reads a path back (planned_files.py's file identities). The names of the sets a
run is scored on (`attack-<name>`, `white_box-<name>`, ...: HDF5 group names inside those
files and the `test_set` column of every table) are spelt in set_names.py, apart: the
evaluation jobs import those, and a job's code digest covers what it imports, so adding a
path here reruns no evaluation.

Imports nothing from the package.
"""

from __future__ import annotations

import re

# -- names ------------------------------------------------------------------------------

# a model, defence, attack, experiment or mixture name: names become folder and file names
# (workflow/schemas/config.schema.yaml's $defs/name is this pattern, anchored; a test checks)
NAME = r"[A-Za-z][A-Za-z0-9_]*"
SPLITS = ("train", "test")

# wildcard -> the regex its value matches: the rules' wildcard constraints and `pattern`
WILDCARDS = {
    "model": NAME,
    "defence": NAME,
    "attack": NAME,
    "n": r"\d+",
    "draw": r"\d+",
    "shard": r"\d+",
    "shards": r"\d+",
    "split": "|".join(SPLITS),
}

# -- files of the study --------------------------------------------------------------------

DATASET = "data/dataset.h5"
NATURAL_ADVERSARIAL = "data/natural_adversarial.h5"
CORRUPTIONS = "data/corruptions.h5"
SUBSET = "subsets/N{n}/draw{draw}.json"
STORE = "store/{split}/{attack}.h5"

# -- files of one training run (relative to its folder) -------------------------------------

RUN_FOLDER = "runs/{model}/N{n}/draw{draw}/{defence}"
WEIGHTS = "weights.safetensors"  # the selected checkpoint's (training.checkpoint)
LAST_WEIGHTS = "last.safetensors"  # the last epoch's, beside the selected ones
EPOCH_LOG = "epochs.csv"
LOGITS = "logits.h5"
WHITE_BOX = "white_box/{attack}.h5"
WHITE_BOX_SHARD = "white_box/{attack}.shard{shard}of{shards}.h5"
BUDGET_SWEEP = "budget_sweep.h5"
METRICS = "metrics.csv"
PER_IMAGE = "per_image.csv"

# -- reports ---------------------------------------------------------------------------------

TABLE = "tables/{table}.csv"  # the metric table (metrics) and the attack table (attacks)
METRIC_TABLE = TABLE.format(table="metrics")
ATTACK_TABLE = TABLE.format(table="attacks")
TABLES_MARKDOWN = "tables/tables.md"
TABLES_HTML = "tables/tables.html"
FIGURE = "figures/{figure}.{extension}"
EXPLANATION = "figures/explanations/{model}.{extension}"
STUDY_RECORD = "study_record.json"
LOGS = "logs"
BENCHMARKS = "benchmarks"
# a job among its rule's, as its log's and benchmark's file name (logs/<rule>/<name>.log)
RUN_JOB_NAME = "{model}_N{n}_draw{draw}_{defence}"
WHITE_BOX_JOB_NAME = RUN_JOB_NAME + "_{attack}"
WHITE_BOX_SHARD_JOB_NAME = WHITE_BOX_JOB_NAME + "_{shard}of{shards}"
SUBSET_JOB_NAME = "N{n}_draw{draw}"
STORE_JOB_NAME = "{split}_{attack}"


def run_file(name: str) -> str:
    """A run's file as a template: `RUN_FOLDER/name`."""
    return f"{RUN_FOLDER}/{name}"


def run_folder(model: str, n: int, draw: int, defence: str) -> str:
    return RUN_FOLDER.format(model=model, n=n, draw=draw, defence=defence)


def store_file(split: str, attack: str) -> str:
    return STORE.format(split=split, attack=attack)


def white_box_file(folder: str, attack: str) -> str:
    """A run's white-box file of `attack`, under the run's `folder`."""
    return f"{folder}/{WHITE_BOX.format(attack=attack)}"


def white_box_shard_file(folder: str, attack: str, shard: int, shards: int) -> str:
    return f"{folder}/{WHITE_BOX_SHARD.format(attack=attack, shard=shard, shards=shards)}"


def job_file(folder: str, rule: str, job: str, extension: str) -> str:
    """A rule's log (folder LOGS) or benchmark (BENCHMARKS) file; `job` names the job among
    the rule's (a template with wildcards, or empty for a rule of one job)."""
    return f"{folder}/{rule}/{job}.{extension}" if job else f"{folder}/{rule}.{extension}"


def pattern(template: str, fixed: dict[str, str] | None = None) -> str:
    """The regex that matches the paths `template` spells, one named group per wildcard
    (WILDCARDS); `fixed` gives a wildcard another regex (e.g. one of two file names)."""
    regexes = {**WILDCARDS, **(fixed or {})}
    parts = re.split(r"\{(\w+)\}", template)
    return "".join(
        re.escape(part) if i % 2 == 0 else f"(?P<{part}>{regexes[part]})"
        for i, part in enumerate(parts)
    )


# -- the results folder's own entries (results_folder.py refuses a folder holding others) --

TOP_LEVEL = frozenset(
    template.split("/")[0]
    for template in (DATASET, SUBSET, STORE, RUN_FOLDER, TABLE, FIGURE, LOGS, BENCHMARKS)
) | {STUDY_RECORD}
