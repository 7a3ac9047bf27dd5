"""What the rules hand to Snakemake: each rule's file paths, its inputs that depend on the job
(as functions of its wildcards), its tracked params and the job JSON of its one command.

The rules (rules/*.smk) are wiring only: each input, output and param is one call into a
`StudyRules` built once from the validated config, so this logic is tested without
Snakemake. Every rule runs `python -m robustsweep <stage> '<settings>' '<job>' <log>`: the
settings (job_settings.py) and the `code` and `methods` digests (job_code.py) are tracked
params, so changing them reruns the job; the job JSON holds paths, identities and compute
placement, derived from the job's input, output and threads, so Snakemake does not track it.

Torch-free, because the Snakefile uses it to build the DAG.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from robustsweep import results_layout as layout
from robustsweep.job_code import (
    attack_code,
    corruption_code,
    figure_code,
    job_code,
    mining_code,
    model_code,
    prepare_code,
    tables_code,
    train_code,
)
from robustsweep.job_settings import (
    attack_table_settings,
    budget_sweep_settings,
    compute,
    corruption_settings,
    evaluate_settings,
    explain_settings,
    figure_settings,
    has_corruptions,
    logits_settings,
    mining_settings,
    natural_folder_settings,
    paper_numbers_file,
    prepare_settings,
    record_settings,
    store_settings,
    subset_settings,
    tables_settings,
    train_settings,
    training_gpus,
    training_processes,
    white_box_settings,
    white_box_shards,
)
from robustsweep.planned_files import job_identities
from robustsweep.run_grid import (
    Run,
    attacked_sets,
    budget_sweep_runs,
    experiment_runs,
    explanation_run,
    surrogate_run,
)

Wildcards = Any  # Snakemake's wildcards of a job: attributes model, n, draw, defence, ...


def run_of(wildcards: Wildcards) -> Run:
    """The run a job's wildcards name."""
    return Run(wildcards.model, int(wildcards.n), int(wildcards.draw), wildcards.defence)


def grouped_paths(files: dict[str, Any]) -> dict[str, Any]:
    """Named paths, names `group__key` gathered into a mapping under `group` (several stores,
    white-box files or shards as one argument of the stage function)."""
    paths: dict[str, Any] = {}
    for name, value in files.items():
        value = list(value) if not isinstance(value, str) else value
        group, _, key = name.partition("__")
        if key:
            paths.setdefault(group, {})[key] = value
        else:
            paths[name] = value
    return paths


class StudyRules:
    """The rules' paths, job-dependent inputs and params for one validated config."""

    def __init__(self, config: dict):
        self.config = config
        self.results = config["results"]
        self.runs = experiment_runs(config)
        self.attacks = list(config["attacks"]["methods"])
        self.white_box = list(config["evaluation"]["white_box"])
        self.budget_sweep_runs = budget_sweep_runs(config)
        self.swept_attack = config["evaluation"]["budget_sweep"]["attack"]
        self.surrogate = surrogate_run(config, "attacks") if self.attacks else None
        self.natural = self.file(layout.NATURAL_ADVERSARIAL)
        self.natural_root = config["natural_adversarial"].get("root")
        self.corrupted = self.file(layout.CORRUPTIONS) if has_corruptions(config) else None

    # -- paths ------------------------------------------------------------------------------

    def file(self, template: str) -> str:
        """A results-folder file (a results_layout template, wildcards kept)."""
        return f"{self.results}/{template}"

    def run_template(self, name: str) -> str:
        """A file of the run the job's wildcards name, as a template (wildcards kept)."""
        return self.file(layout.run_file(name))

    def log(self, rule: str, job: str = "") -> str:
        return self.file(layout.job_file(layout.LOGS, rule, job, "log"))

    def benchmark(self, rule: str, job: str = "") -> str:
        return self.file(layout.job_file(layout.BENCHMARKS, rule, job, "tsv"))

    def run_path(self, run: Run, name: str) -> str:
        """A file of `run`: a path."""
        return f"{self.results}/{run.folder}/{name}"

    def weights_of(self, run: Run) -> str:
        return self.run_path(run, layout.WEIGHTS)

    def store_path(self, split: str, attack: str) -> str:
        return self.file(layout.store_file(split, attack))

    def every_run_file(self, name: str) -> list[str]:
        """One file of every run of the study (the metric table's inputs)."""
        return [self.run_path(run, name) for run in self.runs]

    def attacked_files(self) -> list[str]:
        """Every store and white-box file, in the order of the attack table's settings."""
        return [self.file(attacked.file) for attacked in attacked_sets(self.config)]

    def final_outputs(self) -> list[str]:
        """The default target: the record, tables, every figure and every explanation."""
        from robustsweep.reporting.figures import FIGURES

        extension = self.config["figures"]["format"]
        return [
            self.file(layout.STUDY_RECORD),
            self.file(layout.METRIC_TABLE),
            self.file(layout.ATTACK_TABLE),
            self.file(layout.TABLES_MARKDOWN),
            *[self.figure(figure) for figure in FIGURES.names()],
            *[
                self.file(layout.EXPLANATION.format(model=model, extension=extension))
                for model in self.config["explanations"]["models"]
            ],
        ]

    def figure(self, figure: str) -> str:
        """A figure's file (`{figure}` keeps the wildcard)."""
        extension = self.config["figures"]["format"]
        return self.file(layout.FIGURE.format(figure=figure, extension=extension))

    def explanation(self) -> str:
        """The explanation figure's file, `{model}` a wildcard."""
        extension = self.config["figures"]["format"]
        return self.file(layout.EXPLANATION.format(model="{model}", extension=extension))

    # -- inputs that depend on the job (unpacked: name -> path) -----------------------------

    def _defence(self, wildcards: Wildcards):
        from robustsweep.training.defences import DEFENCES

        return DEFENCES.build(self.config["defences"][wildcards.defence])

    def train_stores(self, wildcards: Wildcards) -> dict[str, str]:
        """Train-split stores the run's defence reads, as inputs named stores__<attack>."""
        names = self._defence(wildcards).stores_needed()
        return {f"stores__{name}": self.store_path("train", name) for name in names}

    def clean_copy(self, wildcards: Wildcards) -> dict[str, str]:
        """The run's `standard` twin, for defences that start from and compare with it."""
        if not self._defence(wildcards).needs_clean_copy:
            return {}
        twin = Run(wildcards.model, int(wildcards.n), int(wildcards.draw), "standard")
        return {"clean_copy": self.weights_of(twin)}

    def test_stores(self, wildcards: Wildcards = None) -> dict[str, str]:
        return {f"stores__{name}": self.store_path("test", name) for name in self.attacks}

    def corrupted_set(self, wildcards: Wildcards = None) -> dict[str, str]:
        """The corrupted test set, for studies that have one."""
        return {"corrupted": self.corrupted} if self.corrupted else {}

    def surrogate_weights(self) -> str | list[str]:
        """The stores' surrogate's weights, for studies that attack (one path, so the job
        checks its identity); no input (an empty list) for those that do not."""
        return self.weights_of(self.surrogate) if self.surrogate else []

    def mining_surrogate_weights(self) -> str:
        """The weights of the surrogate that mines natural adversarial images."""
        return self.weights_of(surrogate_run(self.config, "natural_adversarial"))

    def white_box_files(self, wildcards: Wildcards) -> dict[str, str]:
        """The run's white-box files, as inputs named white_box__<attack>."""
        folder = run_of(wildcards).folder
        return {
            f"white_box__{name}": self.file(layout.white_box_file(folder, name))
            for name in self.white_box
        }

    def budget_sweep_file(self, wildcards: Wildcards) -> dict[str, str]:
        """The run's budget sweep, for runs of the experiments `evaluation.budget_sweep`
        lists."""
        run = run_of(wildcards)
        if run not in self.budget_sweep_runs:
            return {}
        return {"budget_sweep": self.run_path(run, layout.BUDGET_SWEEP)}

    def white_box_shard_files(self, wildcards: Wildcards) -> dict[str, str]:
        """The shard files a white-box job gathers, as inputs shards__<k>; none for one job."""
        shards = white_box_shards(self.config, wildcards.attack)
        if shards == 1:
            return {}
        folder = run_of(wildcards).folder
        return {
            f"shards__{k}": self.file(
                layout.white_box_shard_file(folder, wildcards.attack, k, shards)
            )
            for k in range(shards)
        }

    def figure_inputs(self, wildcards: Wildcards) -> dict[str, str]:
        """The table a figure is drawn from: the metric table, or the attack table."""
        from robustsweep.reporting.figures import reads

        table = reads(wildcards.figure)
        return {table: self.file(layout.TABLE.format(table=table))}

    def explanation_inputs(self, wildcards: Wildcards) -> dict[str, str]:
        """The weights and logits of the run whose mistakes explain the model."""
        run = explanation_run(self.config, wildcards.model)
        return {"weights": self.weights_of(run), "logits": self.run_path(run, layout.LOGITS)}

    def paper_numbers(self, wildcards: Wildcards = None) -> dict[str, str]:
        """The paper's published numbers (reproduction.paper_numbers), when the study names
        them."""
        return paper_numbers_file(self.config)

    # -- figures ------------------------------------------------------------------------------

    @staticmethod
    def figure_pattern() -> str:
        """The `figure` wildcard's constraint: a registered figure's name."""
        from robustsweep.reporting.figures import FIGURES

        return "|".join(FIGURES.names())

    @staticmethod
    def figure_caption(wildcards: Wildcards) -> str:
        """A figure's report caption, its function's docstring (written in one place)."""
        from robustsweep.reporting.figures import caption

        return caption(wildcards.figure)

    # -- resources ------------------------------------------------------------------------------

    def training_gpus(self, wildcards: Wildcards) -> int:
        return training_gpus(self.config, run_of(wildcards))

    def white_box_gpus(self, wildcards: Wildcards) -> int:
        """Gathering shards attacks nothing: no GPU."""
        return 0 if self.white_box_shard_files(wildcards) else self.config["gpus_per_job"]

    # -- tracked params: settings, code, methods ---------------------------------------------

    def settings(self, stage: str, wildcards: Wildcards = None) -> str:
        """The settings JSON of a job of `stage` (job_settings.py)."""
        c, w = self.config, wildcards
        by_stage: dict[str, Callable[[], str]] = {
            "prepare": lambda: prepare_settings(c),
            "corrupt": lambda: corruption_settings(c),
            "subset": lambda: subset_settings(c, int(w.n), int(w.draw)),
            "mine": lambda: mining_settings(c),
            "natural_index": lambda: natural_folder_settings(c),
            "store": lambda: store_settings(c, w.split, w.attack),
            "train": lambda: train_settings(c, run_of(w)),
            "logits": lambda: logits_settings(c),
            "white_box": lambda: white_box_settings(c, w.attack, run_of(w)),
            "white_box_shard": lambda: white_box_settings(c, w.attack),
            "budget_sweep": lambda: budget_sweep_settings(c),
            "evaluate": lambda: evaluate_settings(c, run_of(w)),
            "collect": lambda: "{}",
            "collect_attacks": lambda: attack_table_settings(c),
            "tables": lambda: tables_settings(c),
            "figure": lambda: figure_settings(c, w.figure),
            "explain": lambda: explain_settings(c),
            "record": lambda: record_settings(c),
        }
        return by_stage[stage]()

    def code(self, stage: str, wildcards: Wildcards = None) -> dict[str, str]:
        """The `code` and `methods` digests of a job of `stage` (job_code.py): a table with
        one entry per stage, so a new stage must say which methods its jobs select (an entry
        missing is a KeyError, not digests that miss the methods)."""
        c, w = self.config, wildcards
        by_stage: dict[str, Callable[[], dict[str, str]]] = {
            "prepare": lambda: prepare_code(c),
            "corrupt": lambda: corruption_code(c),
            "subset": lambda: job_code("subset"),
            "mine": lambda: mining_code(c),
            "natural_index": lambda: job_code("natural_index"),
            "store": lambda: attack_code(c, "store", w.attack, self.surrogate.model),
            "train": lambda: train_code(c, run_of(w)),
            "logits": lambda: model_code(c, "logits", w.model),
            "white_box": lambda: attack_code(c, "white_box", w.attack, w.model),
            "white_box_shard": lambda: attack_code(c, "white_box_shard", w.attack, w.model),
            "budget_sweep": lambda: attack_code(c, "budget_sweep", self.swept_attack, w.model),
            "evaluate": lambda: job_code("evaluate"),
            "collect": lambda: job_code("collect"),
            "collect_attacks": lambda: job_code("collect_attacks"),
            "tables": tables_code,
            "figure": lambda: figure_code(w.figure),
            "explain": lambda: model_code(c, "explain", w.model),
            "record": lambda: job_code("record"),
        }
        return by_stage[stage]()

    def params(self, stage: str) -> dict[str, Callable[[Wildcards], str]]:
        """A rule's tracked params `settings`, `code` and `methods`, as functions of the
        job's wildcards."""
        return {
            "settings": lambda wildcards: self.settings(stage, wildcards),
            "code": lambda wildcards: self.code(stage, wildcards)["code"],
            "methods": lambda wildcards: self.code(stage, wildcards)["methods"],
        }

    # -- the job JSON (untracked) ---------------------------------------------------------

    def job(self, input, output, threads=None, processes: int = 1, **values) -> str:
        """The job JSON: every named input and output path (names `group__key` gathered into
        a mapping under `group`), the identity each input must carry and each output is
        sealed with (file_identity.py), for compute jobs the device, thread count and
        (training) the number of data-parallel processes, and `values`."""
        payload = {
            "paths": grouped_paths({**dict(input.items()), **dict(output.items())}),
            "outputs": [str(path) for path in output],
            **job_identities(self.config, dict(input.items()), dict(output.items())),
        }
        if threads is not None:
            payload["compute"] = vars(compute(self.config, threads, processes))
        if values:
            payload["values"] = values
        return json.dumps(payload, sort_keys=True)

    @staticmethod
    def commit(folder: str) -> str:
        """The workflow checkout's commit, for the study record (untracked)."""
        from robustsweep.provenance import git_commit

        return git_commit(folder)

    def training_processes(self, wildcards: Wildcards) -> int:
        return training_processes(self.config, run_of(wildcards))
