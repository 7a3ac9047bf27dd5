"""Expanding a validated config into the study's jobs: which runs exist, where their files
go, what each job is told (its settings, stage_settings.py) and which code it runs (its
code digests, code_digest.py).

Torch-free, because the Snakefile uses it to build the DAG.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass

from robustsweep.code_digest import method_code, stage_code
from robustsweep.data.sources import source_of
from robustsweep.file_identity import sha256_text
from robustsweep.registry import Registry
from robustsweep.stage_settings import (
    AttackTableSettings,
    BudgetSweepSettings,
    Compute,
    CorruptionSettings,
    EvaluateSettings,
    ExplainSettings,
    FigureSettings,
    FigureStyle,
    LogitsSettings,
    MaskingChecks,
    MiningSettings,
    NaturalFolderSettings,
    PrepareSettings,
    RecordSettings,
    StoreSettings,
    SubsetSettings,
    TablesSettings,
    TrainingRecipe,
    TrainSettings,
    WhiteBoxSettings,
    from_mapping,
    to_json,
)


@dataclass(frozen=True, order=True)
class Run:
    """One training job: a model trained on N classes (class draw and seed `draw`) with a
    defence."""

    model: str
    n: int
    draw: int
    defence: str

    @property
    def folder(self) -> str:
        return f"runs/{self.model}/N{self.n}/draw{self.draw}/{self.defence}"

    def identity(self) -> dict:
        """The columns that tag every metric row of this run."""
        return {
            "model": self.model,
            "n_train_classes": self.n,
            "draw": self.draw,
            "defence": self.defence,
        }


@dataclass(frozen=True, order=True)
class AttackedSet:
    """A set of attacked images with a success report: a store (attacked against the attack
    source, per split) or a white-box set (a run's model attacked itself, test split)."""

    kind: str  # "store" or "whitebox"
    split: str
    attack: str
    run: Run  # the attacked model's run

    @property
    def file(self) -> str:
        """Its file, relative to the results folder."""
        if self.kind == "store":
            return f"store/{self.split}/{self.attack}.h5"
        return f"{self.run.folder}/whitebox/{self.attack}.h5"

    def identity(self) -> dict:
        return {"kind": self.kind, "split": self.split, "attack": self.attack} | (
            self.run.identity()
        )


def pool_size(config: dict) -> int:
    return source_of(config["dataset"]).class_count()


def experiment_runs(config: dict) -> list[Run]:
    """Every (model, N, draw, defence) of every experiment grid, once, in a stable order."""
    runs = {
        Run(model, n, draw, defence)
        for grid in config["experiments"].values()
        for model in grid["models"]
        for n in grid["train_classes"]
        for draw in grid["draws"]
        for defence in grid["defences"]
    }
    return sorted(runs)


def budget_sweep_runs(config: dict) -> set[Run]:
    """Runs swept over budgets (`evaluation.budget_sweep`): those of the listed experiments
    (all when none are listed), detectors excepted (no class logits to attack); none while
    the sweep has no budgets."""
    from robustsweep.training.defences import DEFENCES

    sweep = config["evaluation"]["budget_sweep"]
    if not sweep["eps"]:
        return set()
    names = sweep["experiments"] or list(config["experiments"])
    return {
        Run(model, n, draw, defence)
        for name in names
        for grid in [config["experiments"][name]]
        for model in grid["models"]
        for n in grid["train_classes"]
        for draw in grid["draws"]
        for defence in grid["defences"]
        if DEFENCES.build(config["defences"][defence]).output_names is None
    }


def support_run(config: dict, role: str) -> Run:
    """The all-class standard run that serves as attack source or mining reference."""
    section = (
        config["attacks"]["source"]
        if role == "source"
        else config["natural_adversarial"]["reference"]
    )
    return Run(section["model"], pool_size(config), section["draw"], "standard")


def train_store_attacks(config: dict) -> list[str]:
    """Attacks whose train-split store some run's defence reads."""
    from robustsweep.training.defences import DEFENCES

    names: set[str] = set()
    for run in experiment_runs(config):
        names.update(DEFENCES.build(config["defences"][run.defence]).stores_needed())
    return sorted(names)


def attacked_sets(config: dict) -> list[AttackedSet]:
    """Every store and white-box set of the study, in a stable order."""
    sets = []
    if config["attacks"]["methods"]:
        source = support_run(config, "source")
        sets += [AttackedSet("store", "test", a, source) for a in config["attacks"]["methods"]]
        sets += [AttackedSet("store", "train", a, source) for a in train_store_attacks(config)]
    sets += [
        AttackedSet("whitebox", "test", attack, run)
        for run in experiment_runs(config)
        for attack in config["evaluation"]["white_box"]
    ]
    return sorted(sets)


def support_runs(config: dict) -> list[Run]:
    """The attack source (when the study attacks) and the mining reference (when it mines)."""
    runs = []
    if config["attacks"]["methods"]:
        runs.append(support_run(config, "source"))
    if "root" not in config["natural_adversarial"]:
        runs.append(support_run(config, "reference"))
    return runs


def predicted_class_values(config: dict, run: Run) -> list[int]:
    """The M values to evaluate a run at: those of every experiment the run belongs to."""
    values: set[int] = set()
    for grid in config["experiments"].values():
        if (
            run.model in grid["models"]
            and run.n in grid["train_classes"]
            and run.draw in grid["draws"]
            and run.defence in grid["defences"]
        ):
            values.update(m for m in grid["predicted_classes"] if m <= run.n)
    return sorted(values)


def explanation_run(config: dict, model: str) -> Run | None:
    """The run whose mistakes explain `model`: its all-class standard run of lowest draw."""
    pool = pool_size(config)
    runs = [
        run
        for run in experiment_runs(config)
        if run.model == model and run.n == pool and run.defence == "standard"
    ]
    return min(runs, key=lambda run: run.draw, default=None)


# -- what each job is told (tracked: a change reruns the job) ----------------------------


def compute(config: dict, threads: int, processes: int = 1) -> Compute:
    return Compute(device=config["device"], threads=threads, processes=processes)


PROCESSES = "data_parallel"  # the key of a model's own count of training processes


def training_processes(config: dict, run: Run) -> int:
    """Data-parallel processes of the run's training job: the model's own `data_parallel`,
    else the study's."""
    return int(config["models"][run.model].get(PROCESSES, config[PROCESSES]))


def training_gpus(config: dict, run: Run) -> int:
    """The training job's Snakemake `gpu` resource: `gpus_per_job` for each of its processes."""
    return config["gpus_per_job"] * training_processes(config, run)


def prepare_settings(config: dict) -> str:
    return to_json(PrepareSettings(dataset=config["dataset"], seed=config["seed"]))


def subset_settings(config: dict, n: int, draw: int) -> str:
    return to_json(SubsetSettings(n=n, draw=draw, study_seed=config["seed"]))


def has_corruptions(config: dict) -> bool:
    """Whether the study scores a corrupted test set (a `corruptions.source` is given)."""
    return "source" in config["corruptions"]


def corruption_settings(config: dict) -> str:
    return to_json(CorruptionSettings(spec=config["corruptions"], seed=config["seed"]))


def mining_settings(config: dict) -> str:
    section = config["natural_adversarial"]
    return to_json(
        MiningSettings(
            patterns=section["patterns"],
            severity=section["severity"],
            variants=section["variants"],
            max_confidence=section["max_confidence"],
            seed=config["seed"],
        )
    )


def natural_folder_settings(config: dict) -> str:
    section = config["natural_adversarial"]
    return to_json(NaturalFolderSettings(root=section["root"], name=section["name"]))


def store_settings(config: dict, split: str, attack: str) -> str:
    """A store's settings; without an `attacks.store` section, `storage` is left out of the
    JSON so stores made before the section existed keep their settings (no rerun)."""
    settings = dataclasses.asdict(
        StoreSettings(
            attack=attack,
            spec=config["attacks"]["methods"][attack],
            batch_size=config["attacks"]["batch_size"],
            seed=config["seed"],
            split=split,
            storage=config["attacks"].get("store", {}),
        )
    )
    if not settings["storage"]:
        del settings["storage"]
    return json.dumps(settings, sort_keys=True)


OVERRIDE = "training"  # the key of a model's or a defence's own recipe override


def without_override(spec: dict) -> dict:
    """A model or defence spec without its recipe override and its process count (what the
    method itself takes)."""
    return {key: value for key, value in spec.items() if key not in (OVERRIDE, PROCESSES)}


def run_recipe(config: dict, run: Run) -> dict:
    """The run's training recipe: the study's `training` section, then the model's own
    override, then the defence's (study_config.py refuses a key both set differently)."""
    model = config["models"][run.model].get(OVERRIDE, {})
    defence = config["defences"][run.defence].get(OVERRIDE, {})
    recipe = {**config["training"], **model, **defence}
    # an override of the validation object names only the keys it changes
    recipe["validation"] = {
        **config["training"].get("validation", {}),
        **model.get("validation", {}),
        **defence.get("validation", {}),
    }
    return recipe


def train_settings(config: dict, run: Run) -> str:
    return to_json(
        TrainSettings(
            model=without_override(config["models"][run.model]),
            recipe=from_mapping(TrainingRecipe, run_recipe(config, run)),
            defence=without_override(config["defences"][run.defence]),
            draw=run.draw,
            study_seed=config["seed"],
        )
    )


def logits_settings(config: dict) -> str:
    evaluation = config["evaluation"]
    return to_json(
        LogitsSettings(
            masking=from_mapping(MaskingChecks, evaluation["masking_checks"]),
            attack_batch_size=config["attacks"]["batch_size"],
            seed=evaluation["seed"],
            imagenet_a_head=evaluation.get("imagenet_a_head", "sliced"),
        )
    )


def white_box_settings(config: dict, attack: str, run: Run | None = None) -> str:
    """The white-box job's settings; with `evaluation.white_box_below_n: restricted` also the
    run's M values below N and the trials, whose M-restricted classifiers it attacks too
    (shard jobs, given no run, attack the N-way head only)."""
    evaluation = config["evaluation"]
    below = [] if run is None else [m for m in predicted_class_values(config, run) if m < run.n]
    restricted = evaluation.get("white_box_below_n", "transfer") == "restricted" and below
    return to_json(
        WhiteBoxSettings(
            attack=attack,
            spec=config["attacks"]["methods"][attack],
            batch_size=config["attacks"]["batch_size"],
            seed=evaluation["seed"],
            precision=evaluation["attack_precision"],
            restricted_m=below if restricted else [],
            trials=evaluation["trials"] if restricted else 1,
        )
    )


def budget_sweep_settings(config: dict) -> str:
    sweep = config["evaluation"]["budget_sweep"]
    return to_json(
        BudgetSweepSettings(
            attack=sweep["attack"],
            spec=config["attacks"]["methods"][sweep["attack"]],
            eps=sweep["eps"],
            batch_size=config["attacks"]["batch_size"],
            seed=config["evaluation"]["seed"],
        )
    )


def white_box_shards(config: dict, attack: str) -> int:
    """How many shard jobs attack `attack` against each run (evaluation.shards)."""
    shards = config["evaluation"]["shards"]
    return int(shards.get(attack, 1) if isinstance(shards, dict) else shards)


def white_box_shard_file(folder: str, attack: str, shard: int, shards: int) -> str:
    return f"{folder}/whitebox/{attack}.shard{shard}of{shards}.h5"


def evaluate_settings(config: dict, run: Run) -> str:
    evaluation = config["evaluation"]
    return to_json(
        EvaluateSettings(
            run=run.identity(),
            m_values=predicted_class_values(config, run),
            trials=evaluation["trials"],
            seed=evaluation["seed"],
            hybrid_fractions=evaluation["hybrid_fractions"],
            mixtures=evaluation["mixtures"],
            m_sweep_scoring=evaluation["m_sweep_scoring"],
            budget_max_accuracy=evaluation["budget_sweep"]["max_accuracy"],
        )
    )


def attack_table_settings(config: dict) -> str:
    return to_json(
        AttackTableSettings(
            min_success=config["attacks"]["min_success"],
            sets=[attacked.identity() for attacked in attacked_sets(config)],
        )
    )


def tables_settings(config: dict) -> str:
    from robustsweep.reporting.paper_numbers import comparison_off, load_paper_numbers, resolve

    reproduction = config["reproduction"]
    name = reproduction.get("paper_numbers")
    paper = None if name is None else load_paper_numbers(resolve(name), name)
    return to_json(
        TablesSettings(
            pool_size=pool_size(config),
            paper_numbers=name,
            tolerance=reproduction["tolerance"],
            relative_floor=reproduction["relative_floor"],
            compare_off=comparison_off(paper, config),
        )
    )


def paper_numbers_file(config: dict) -> dict[str, str]:
    """The paper_tables job's paper-numbers input (none when the study names no file)."""
    from robustsweep.reporting.paper_numbers import resolve

    name = config["reproduction"].get("paper_numbers")
    return {} if name is None else {"paper_numbers": str(resolve(name))}


def figure_style(config: dict) -> FigureStyle:
    return from_mapping(FigureStyle, config["figures"])


def figure_settings(config: dict, figure: str) -> str:
    return to_json(FigureSettings(figure=figure, style=figure_style(config)))


def explain_settings(config: dict) -> str:
    section = config["explanations"]
    return to_json(
        ExplainSettings(
            top_k=section["top_k"],
            style=figure_style(config),
            grad_cam_score=section["grad_cam_score"],
        )
    )


def record_settings(config: dict) -> str:
    return to_json(RecordSettings(config=config))


# -- what each file is made for (file_identity.py: writers seal it, readers check it) -------

RUN_PATTERN = r"runs/(?P<model>[A-Za-z]\w*)/N(?P<n>\d+)/draw(?P<draw>\d+)/(?P<defence>[A-Za-z]\w*)"


def _run_of(match: re.Match) -> Run:
    return Run(match["model"], int(match["n"]), int(match["draw"]), match["defence"])


def _natural_settings(config: dict) -> str:
    if "root" in config["natural_adversarial"]:
        return natural_folder_settings(config)
    return mining_settings(config)


# a file in the results folder -> the identity it carries: its kind, what it is made for, the
# sha256 of its job's settings (the tracked settings JSON) and, for pixels, the image size
PLANNED_FILES = {
    r"data/dataset\.h5": lambda c, m: {
        "kind": "dataset",
        "settings_sha256": sha256_text(prepare_settings(c)),
        "image_size": c["dataset"]["image_size"],
    },
    r"data/natural_adversarial\.h5": lambda c, m: {
        "kind": "natural_adversarial",
        "settings_sha256": sha256_text(_natural_settings(c)),
        "image_size": c["dataset"]["image_size"],
    },
    r"data/corruptions\.h5": lambda c, m: {
        "kind": "corruptions",
        "settings_sha256": sha256_text(corruption_settings(c)),
        "image_size": c["dataset"]["image_size"],
    },
    r"subsets/N(?P<n>\d+)/draw(?P<draw>\d+)\.json": lambda c, m: {
        "kind": "subset",
        "settings_sha256": sha256_text(subset_settings(c, int(m["n"]), int(m["draw"]))),
    },
    r"store/(?P<split>train|test)/(?P<attack>\w+)\.h5": lambda c, m: {
        "kind": "store",
        "split": m["split"],
        "attack": m["attack"],
        "settings_sha256": sha256_text(store_settings(c, m["split"], m["attack"])),
        "image_size": c["dataset"]["image_size"],
    },
    # the selected checkpoint's weights and the last epoch's (training.checkpoint)
    RUN_PATTERN + r"/(weights|last)\.safetensors": lambda c, m: {
        "kind": "weights",
        "run": _run_of(m).folder,
        "settings_sha256": sha256_text(train_settings(c, _run_of(m))),
        "image_size": c["dataset"]["image_size"],
    },
    RUN_PATTERN + r"/logits\.h5": lambda c, m: {
        "kind": "logits",
        "run": _run_of(m).folder,
        "settings_sha256": sha256_text(logits_settings(c)),
    },
    RUN_PATTERN + r"/whitebox/(?P<attack>\w+)\.shard(?P<shard>\d+)of(?P<shards>\d+)\.h5": (
        lambda c, m: {
            "kind": "white_box_shard",
            "run": _run_of(m).folder,
            "attack": m["attack"],
            "shard": int(m["shard"]),
            "shards": int(m["shards"]),
            "settings_sha256": sha256_text(white_box_settings(c, m["attack"])),
        }
    ),
    RUN_PATTERN + r"/whitebox/(?P<attack>\w+)\.h5": lambda c, m: {
        "kind": "white_box",
        "run": _run_of(m).folder,
        "attack": m["attack"],
        "settings_sha256": sha256_text(white_box_settings(c, m["attack"], _run_of(m))),
    },
    RUN_PATTERN + r"/budget_sweep\.h5": lambda c, m: {
        "kind": "budget_sweep",
        "run": _run_of(m).folder,
        "settings_sha256": sha256_text(budget_sweep_settings(c)),
    },
}


def planned_identity(config: dict, path: str) -> dict | None:
    """The identity the file at `path` (as the rules spell it, under `results`) must carry;
    None for files without one (tables, figures, logs)."""
    prefix = config["results"].rstrip("/") + "/"
    if not path.startswith(prefix):
        return None
    relative = path[len(prefix) :]
    for pattern, identity in PLANNED_FILES.items():
        if match := re.fullmatch(pattern, relative):
            return identity(config, match)
    return None


def job_identities(config: dict, inputs: dict, outputs: dict) -> dict:
    """The job JSON's `expect` (input name, or group and key, -> identity the input must
    carry) and `identity` (output path -> identity its writer seals it with)."""
    expect: dict = {}
    for name, path in inputs.items():
        if not isinstance(path, str) or (identity := planned_identity(config, path)) is None:
            continue
        group, _, key = name.partition("__")
        if key:
            expect.setdefault(group, {})[key] = identity
        else:
            expect[name] = identity
    made = {
        path: identity
        for path in outputs.values()
        if isinstance(path, str) and (identity := planned_identity(config, path)) is not None
    }
    return {"expect": expect, "identity": made}


# -- which code each job runs (tracked by content) ----------------------------------------

# the package modules each stage's rule runs (its stage function's module)
STAGE_MODULES = {
    "prepare": "data.prepared_dataset",
    "corrupt": "data.corruption_set",
    "subset": "data.class_subsets",
    "mine": "data.natural_adversarial",
    "natural-index": "data.natural_adversarial",
    "store": "attacks.adversarial_store",
    "train": "training.training_loop",
    "logits": "evaluation.logits_cache",
    "white-box": "evaluation.white_box",
    "budget-sweep": "evaluation.budget_sweep",
    "white-box-shard": "evaluation.white_box",
    "evaluate": "evaluation.run_evaluation",
    "collect": "reporting.metric_table",
    "collect-attacks": "reporting.attack_table",
    "tables": "reporting.tables",
    "figure": "reporting.figures",
    "explain": "reporting.mistake_explanations",
    "record": "provenance",
}


def method_module(registry: Registry, name: str) -> str:
    return registry.index[registry.resolve(name)]


def architecture_module(config: dict, model: str) -> str:
    from robustsweep.models.architectures import ARCHITECTURES

    return method_module(ARCHITECTURES, config["models"][model]["architecture"])


def job_code(stage: str, *method_modules: str) -> dict[str, str]:
    """The `code` and `methods` params of a job of `stage` that runs these method modules."""
    module = STAGE_MODULES[stage]
    return {"code": stage_code(module), "methods": method_code(method_modules, module)}


def corruption_code(config: dict) -> dict[str, str]:
    from robustsweep.data.corruptions import CORRUPTIONS

    return job_code("corrupt", method_module(CORRUPTIONS, config["corruptions"]["source"]))


def prepare_code(config: dict) -> dict[str, str]:
    from robustsweep.data.sources import DATASET_SOURCES

    return job_code("prepare", method_module(DATASET_SOURCES, config["dataset"]["source"]))


def mining_code(config: dict) -> dict[str, str]:
    from robustsweep.data.patterns import NATURAL_PATTERNS

    patterns = [
        method_module(NATURAL_PATTERNS, p) for p in config["natural_adversarial"]["patterns"]
    ]
    reference = support_run(config, "reference").model
    return job_code("mine", *patterns, architecture_module(config, reference))


def attack_code(config: dict, stage: str, attack: str, model: str) -> dict[str, str]:
    """A store job (model: the attack source) or a white-box job (model: the run's)."""
    from robustsweep.attacks.methods import ATTACK_METHODS

    method = config["attacks"]["methods"][attack]["method"]
    return job_code(
        stage, method_module(ATTACK_METHODS, method), architecture_module(config, model)
    )


def train_code(config: dict, run: Run) -> dict[str, str]:
    from robustsweep.training.defences import DEFENCES

    defence = method_module(DEFENCES, config["defences"][run.defence]["method"])
    return job_code("train", defence, architecture_module(config, run.model))


def model_code(config: dict, stage: str, model: str) -> dict[str, str]:
    """A job that loads a run's model and runs no other method (logits, explanations)."""
    return job_code(stage, architecture_module(config, model))


def tables_code() -> dict[str, str]:
    """The tables job writes every registered table: each table module is its method."""
    from robustsweep.reporting.tables import TABLES

    return job_code("tables", *sorted(set(TABLES.index.values())))


def figure_code(figure: str) -> dict[str, str]:
    from robustsweep.reporting.figures import FIGURES

    return job_code("figure", method_module(FIGURES, figure))
