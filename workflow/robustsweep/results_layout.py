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
regex that reads a path back (planned_files.py's file identities). The metrics' test-set
names (`attack-<name>`, `white_box-<name>`, ...) are spelt here too: they are HDF5 group
names in the logits and white-box files and the `test_set` column of every table.

Imports nothing from the package: everything else imports it.
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


# -- test sets: the `test_set` column of the metrics and the logits files' group names ------

CLEAN = "clean"  # the test split
NATURAL = "natural"  # the natural adversarial set
CORRUPTED = "corrupted"  # the corrupted test split (corruptions.source)
TRANSFER_PREFIX = "attack-"  # a stored attack: transfer from the surrogate
WHITE_BOX_PREFIX = "white_box-"  # an attack on the run's own model (evaluation.white_box)
HYBRID_PREFIX = "hybrid-"  # ho2024's mixture of one stored attack with clean images
MIXTURE_PREFIX = "mix-"  # a named mixture of evaluation.mixtures
BUDGET_PREFIX = "budget-"  # the budget sweep's attack (evaluation.budget_sweep)
WORST_PREFIX = "worst-"  # per image, right under every attack of a group
WORST_WHITE_BOX = "worst-white_box"  # ... of the run's white-box attacks
WORST_STORE = "worst-store"  # ... of the stored (transfer) attacks
WORST_ALL = "worst-all"  # ... of both
ATTACKED_PREFIXES = (TRANSFER_PREFIX, WHITE_BOX_PREFIX)
RESTRICTED = "@m"  # joins a white-box set's name and the (M, trial) it attacked restricted


def transfer_set(attack: str) -> str:
    return TRANSFER_PREFIX + attack


def white_box_set(attack: str) -> str:
    return WHITE_BOX_PREFIX + attack


def hybrid_set(attack: str, fraction: float) -> str:
    """ho2024's mixture of `fraction` adversarial images from one stored attack."""
    return f"{HYBRID_PREFIX}{attack.removeprefix(TRANSFER_PREFIX)}-{fraction * 100:g}pct"


def mixture_set(name: str) -> str:
    return MIXTURE_PREFIX + name


def budget_set(attack: str) -> str:
    return BUDGET_PREFIX + attack


def restricted_set(attack: str, m: int, trial: int) -> str:
    """The group of the white-box attack on the M-restricted classifier of one trial."""
    return f"{white_box_set(attack)}{RESTRICTED}{m}-trial{trial}"


# -- attacked sets: the `origin` of a store and of a white-box set (the attack table's column) --

STORE_SET = "store"  # crafted on the surrogate, per split (store/)
WHITE_BOX_SET = "white_box"  # a run's model attacked itself, test split (<run>/white_box/)


def attacked_test_set(origin: str, attack: str) -> str:
    """The test set an attacked set of `origin` is scored as."""
    return white_box_set(attack) if origin == WHITE_BOX_SET else transfer_set(attack)


# -- the results folder's own entries (results_folder.py refuses a folder holding others) --

TOP_LEVEL = frozenset(
    template.split("/")[0]
    for template in (DATASET, SUBSET, STORE, RUN_FOLDER, TABLE, FIGURE, LOGS, BENCHMARKS)
) | {STUDY_RECORD}
