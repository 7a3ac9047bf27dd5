"""Expanding a validated config into the study's jobs: which runs exist, where their files
go, what each job is told (its settings, stage_settings.py) and which code it runs (its
code digests, code_digest.py).

Torch-free, because the Snakefile uses it to build the DAG.
"""

from __future__ import annotations

from dataclasses import dataclass

from robustsweep.code_digest import method_code, stage_code
from robustsweep.data.sources import source_of
from robustsweep.registry import Registry
from robustsweep.stage_settings import (
    AttackSettings,
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


def support_run(config: dict, role: str) -> Run:
    """The all-class standard run that serves as attack source or mining reference."""
    section = (
        config["attacks"]["source"]
        if role == "source"
        else config["natural_adversarial"]["reference"]
    )
    return Run(section["model"], pool_size(config), section["draw"], "standard")


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


def compute(config: dict, threads: int) -> Compute:
    return Compute(device=config["device"], threads=threads)


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
    return to_json(
        StoreSettings(
            attack=attack,
            spec=config["attacks"]["methods"][attack],
            batch_size=config["attacks"]["batch_size"],
            seed=config["seed"],
            split=split,
        )
    )


OVERRIDE = "training"  # the key of a model's or a defence's own recipe override


def without_override(spec: dict) -> dict:
    """A model or defence spec without its recipe override (what the method itself takes)."""
    return {key: value for key, value in spec.items() if key != OVERRIDE}


def run_recipe(config: dict, run: Run) -> dict:
    """The run's training recipe: the study's `training` section, then the model's own
    override, then the defence's (study_config.py refuses a key both set differently)."""
    return {
        **config["training"],
        **config["models"][run.model].get(OVERRIDE, {}),
        **config["defences"][run.defence].get(OVERRIDE, {}),
    }


def train_settings(config: dict, run: Run) -> str:
    return to_json(
        TrainSettings(
            model=without_override(config["models"][run.model]),
            recipe=from_mapping(TrainingRecipe, run_recipe(config, run)),
            defence=without_override(config["defences"][run.defence]),
            draw=run.draw,
        )
    )


def logits_settings(config: dict) -> str:
    evaluation = config["evaluation"]
    return to_json(
        LogitsSettings(
            masking=from_mapping(MaskingChecks, evaluation["masking_checks"]),
            attack_batch_size=config["attacks"]["batch_size"],
            seed=evaluation["seed"],
        )
    )


def white_box_settings(config: dict, attack: str) -> str:
    return to_json(
        AttackSettings(
            attack=attack,
            spec=config["attacks"]["methods"][attack],
            batch_size=config["attacks"]["batch_size"],
            seed=config["evaluation"]["seed"],
        )
    )


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
        )
    )


def tables_settings(config: dict) -> str:
    return to_json(TablesSettings(pool_size=pool_size(config)))


def figure_style(config: dict) -> FigureStyle:
    return from_mapping(FigureStyle, config["figures"])


def figure_settings(config: dict, figure: str) -> str:
    return to_json(FigureSettings(figure=figure, style=figure_style(config)))


def explain_settings(config: dict) -> str:
    return to_json(
        ExplainSettings(top_k=config["explanations"]["top_k"], style=figure_style(config))
    )


def record_settings(config: dict) -> str:
    return to_json(RecordSettings(config=config))


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
    "evaluate": "evaluation.run_evaluation",
    "collect": "reporting.metric_table",
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
