"""What each job is told: its settings (stage_settings.py dataclasses, as the JSON a rule
passes and tracks, so a change reruns the job) and its compute placement, built from the
validated config and the run grid (run_grid.py).

Torch-free, because the Snakefile uses it to build the DAG.
"""

from __future__ import annotations

import dataclasses
import json

from robustsweep.run_grid import (
    Run,
    attacked_sets,
    pool_size,
    predicted_class_values,
)
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
            restricted_predicted_classes=below if restricted else [],
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


def evaluate_settings(config: dict, run: Run) -> str:
    evaluation = config["evaluation"]
    return to_json(
        EvaluateSettings(
            run=run.columns(),
            predicted_classes=predicted_class_values(config, run),
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
            sets=[attacked.columns() for attacked in attacked_sets(config)],
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


def natural_settings(config: dict) -> str:
    """The natural adversarial set's settings: of the folder indexed, or of the mining."""
    if "root" in config["natural_adversarial"]:
        return natural_folder_settings(config)
    return mining_settings(config)
