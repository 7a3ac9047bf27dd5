"""What each pipeline stage is told: one frozen dataclass per stage.

A rule passes its job's settings as one JSON argument (`python -m robustsweep <stage>
'<settings>' '<paths>'`); cli.py parses it into the stage's dataclass and calls the stage
function with it, keyword-only. The Snakefile builds the same dataclass from the validated
config (job_settings.py), so a setting crosses two layers: the schema, which types it, bounds
it and gives its default, and the field here that says which stage reads it. Defaults are
never written here: sections that tests build by hand (`TrainingRecipe.from_section`) take
them from the schema.

Only what changes a stage's output belongs in its settings: the settings JSON is a tracked
Snakemake param, so editing it reruns the job. Paths and the compute placement (device,
threads) travel in a second, untracked JSON object.
Torch-free: the Snakefile imports this to plan jobs.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

T = TypeVar("T")


def from_mapping(cls: type[T], mapping: dict[str, Any]) -> T:
    """Build a settings dataclass from JSON data, nested dataclass fields included."""
    hints = typing.get_type_hints(cls)
    values = {}
    for f in fields(cls):
        if f.name not in mapping:
            continue
        value, hint = mapping[f.name], hints[f.name]
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            value = from_mapping(hint, value)
        values[f.name] = value
    unknown = set(mapping) - {f.name for f in fields(cls)}
    if unknown:
        raise TypeError(f"{cls.__name__} has no setting(s) {', '.join(sorted(unknown))}")
    return cls(**values)


def to_json(settings: Any) -> str:
    """Stable JSON of a settings object: equal settings, equal strings (no spurious reruns)."""
    return json.dumps(dataclasses.asdict(settings), sort_keys=True)


class Section:
    """Settings that are one top-level config section, with the schema's defaults."""

    SECTION: str = ""

    @classmethod
    def from_section(cls, values: dict | None = None):
        """The section as a study that gives only `values` of it would have it (planning and
        tests only: jobs get their settings whole, so they skip the schema's yaml and
        jsonschema imports)."""
        from robustsweep.config_schema import section_defaults

        return from_mapping(cls, {**section_defaults(cls.SECTION), **(values or {})})


@dataclass(frozen=True, kw_only=True)
class Compute:
    """Where a job's tensors live and how many cores it may use. Not a setting: it travels
    with the paths, so moving a study to another machine or device reruns nothing."""

    device: str
    threads: int
    # training only: data-parallel processes (training/data_parallel.py), sharing `threads`
    processes: int = 1


@dataclass(frozen=True, kw_only=True)
class ValidationSettings:
    """`training.validation`: the held-out images, the robust check and the overfitting flag
    (training/robust_validation.py)."""

    split: str
    fraction: float
    robust_images: int
    robust_cost: float
    clean_cost: float
    steps: int
    eps: float | None
    fallback_eps: float
    alpha: float | None
    collapse_fraction: float
    collapse_min_drop: float
    early_stop: bool


@dataclass(frozen=True, kw_only=True)
class TrainingRecipe(Section):
    """The config's `training` section: optimiser, schedule, augmentation, precision."""

    SECTION = "training"
    epochs: int
    batch_size: int
    optimizer: str
    lr: float
    weight_decay: float
    momentum: float
    nesterov: bool
    scheduler: str
    restart_epochs: int
    restart_mult: int
    lr_milestones: list[int]
    lr_factors: list[float]
    augmentation: str
    crop_scale: list[float]
    crop_ratio: list[float]
    precision: str
    checkpoint: str
    validation: ValidationSettings

    @classmethod
    def from_section(cls, values: dict | None = None):
        """As Section's, with a partial `validation` filled from its defaults too."""
        from robustsweep.config_schema import section_defaults

        defaults = section_defaults(cls.SECTION)
        values = dict(values or {})
        values["validation"] = {**defaults["validation"], **values.get("validation", {})}
        return from_mapping(cls, {**defaults, **values})


@dataclass(frozen=True, kw_only=True)
class MaskingChecks(Section):
    """The config's `evaluation.masking_checks`: gradient-masking measurements per run."""

    SECTION = "evaluation.masking_checks"
    enabled: bool
    huge_eps: float
    steps: int

    @classmethod
    def from_section(cls, values: dict | None = None):
        from robustsweep.config_schema import section_defaults

        defaults = section_defaults("evaluation")["masking_checks"]
        return from_mapping(cls, {**defaults, **(values or {})})


@dataclass(frozen=True, kw_only=True)
class FigureStyle(Section):
    """The config's `figures` section."""

    SECTION = "figures"
    format: str
    dpi: int
    style: str
    context: str


@dataclass(frozen=True, kw_only=True)
class PrepareSettings:
    """prepare_dataset: the `dataset` section (source, its options, size, splits)."""

    dataset: dict
    seed: int  # the study seed keys the splits


@dataclass(frozen=True, kw_only=True)
class SubsetSettings:
    """class_subset: which N classes draw `draw` picks."""

    n: int
    draw: int
    study_seed: int


@dataclass(frozen=True, kw_only=True)
class MiningSettings:
    """mine_natural_adversarial: the patterns and the filter (`natural_adversarial`)."""

    patterns: list[str]
    severity: float
    variants: int
    max_confidence: float
    seed: int


@dataclass(frozen=True, kw_only=True)
class NaturalFolderSettings:
    """index_natural_adversarial: a natural adversarial folder on disk (ImageNet-A)."""

    root: str
    name: str


@dataclass(frozen=True, kw_only=True)
class CorruptionSettings:
    """corruption_set: the `corruptions` section (source and its options)."""

    spec: dict
    seed: int  # the study seed keys each image's corruption


@dataclass(frozen=True, kw_only=True)
class AttackSettings:
    """adversarial_store and white_box: one configured attack over a split or a model."""

    attack: str  # its name under attacks.methods
    spec: dict  # its validated spec (method and parameters)
    batch_size: int
    seed: int


@dataclass(frozen=True, kw_only=True)
class WhiteBoxSettings(AttackSettings):
    """white_box and white_box_shard: an attack of a run's own model. The shard split is not
    a setting: K shards make the same file as one job (white_box_parts.py). Besides the N-way
    head, white_box attacks the M-restricted classifier of each M below N and each trial
    (evaluation.white_box_below_n: restricted; empty `restricted_predicted_classes` when off)."""

    precision: str = "fp32"  # evaluation.attack_precision: fp32, or bf16 autocast on a GPU
    restricted_predicted_classes: list[int] = field(default_factory=list)
    trials: int = 1


@dataclass(frozen=True, kw_only=True)
class StoreSettings(AttackSettings):
    split: str
    # attacks.store: format (exact/jpeg), jpeg_quality, repair. The one default here: a study
    # without the section leaves it out of its settings JSON (job_settings.store_settings), so
    # its stores keep the settings they were made with
    storage: dict = dataclasses.field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class AttackTableSettings:
    """collect_attacks: which attacked set each input file is, and `attacks.min_success`."""

    min_success: float
    sets: list[dict]  # per file: origin (store/white_box), split, attack, the attacked run


@dataclass(frozen=True, kw_only=True)
class TrainSettings:
    """train_model: one (model, N, draw, defence) run."""

    model: dict  # validated model spec: {architecture: name, options...}
    recipe: TrainingRecipe
    defence: dict  # validated defence spec: {method: name, parameters...}
    draw: int  # seeds the run's training
    study_seed: int = 0  # seeds the held-out validation images (validation.split: train)


@dataclass(frozen=True, kw_only=True)
class LogitsSettings:
    """logits_cache: clean, natural and transfer logits of a run, and the masking checks."""

    masking: MaskingChecks
    attack_batch_size: int
    seed: int
    # a pretrained model's head on ImageNet-A (evaluation.imagenet_a_head): sliced or full
    imagenet_a_head: str = "sliced"


@dataclass(frozen=True, kw_only=True)
class EvaluateSettings:
    """evaluate_run: the M sweep, its trials and protocols, and the test mixtures."""

    run: dict  # the run's columns of every metric row (Run.columns)
    predicted_classes: list[int]
    trials: int
    seed: int
    hybrid_fractions: list[float]
    mixtures: dict  # name -> {fraction, attacks}
    m_sweep_scoring: list[str]  # which images an M < N row scores (run_evaluation.py)
    # evaluation.budget_sweep.max_accuracy: accuracy at the largest budget above it is flagged
    budget_max_accuracy: float = 0.1


@dataclass(frozen=True, kw_only=True)
class BudgetSweepSettings(AttackSettings):
    """budget_sweep: one configured attack over a list of budgets (evaluation/budget_sweep.py)."""

    eps: list[float]


@dataclass(frozen=True, kw_only=True)
class TablesSettings:
    """paper_tables: the class pool size (what 'all-class' means) and how the paper's
    published numbers are compared (`reproduction`; the file itself is an input)."""

    pool_size: int
    paper_numbers: str | None  # the file as the config names it, for the report
    tolerance: float  # percentage points: the verdict's floor
    relative_floor: float  # the floor's cap, a fraction of the paper's value
    compare_off: str  # why the numbers are not judged ("" when they are)


@dataclass(frozen=True, kw_only=True)
class FigureSettings:
    figure: str
    style: FigureStyle


@dataclass(frozen=True, kw_only=True)
class ExplainSettings:
    top_k: int
    style: FigureStyle
    grad_cam_score: str  # logit, or softmax (zhu2025's Eq. 1)


@dataclass(frozen=True, kw_only=True)
class RecordSettings:
    """study_record: the resolved config (the commit travels untracked with the paths, so a
    code edit that reruns nothing does not rewrite the record)."""

    config: dict
