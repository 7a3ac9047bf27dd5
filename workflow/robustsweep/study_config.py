"""Config validation: schema defaults, then one-line errors naming the key and the fix.

The schema (workflow/schemas/config.schema.yaml) types the study's own sections; every
method's parameters (an attack's eps, a defence's beta, an architecture's options, a dataset
source's folders) are typed by the method itself in its registry (registry.py), so they are
refused in the same words. Resolved values (defaults and derived parameters) are written back
into the config, which the study record keeps.

Runs in the Snakefile before any job is scheduled, so it must stay light: no torch import.
"""

from __future__ import annotations

import copy
import math
import os
from pathlib import Path
from typing import Any

from robustsweep.attacks.methods import ATTACK_METHODS
from robustsweep.config_schema import config_key, load_schema, validate
from robustsweep.data.corruptions import CORRUPTIONS
from robustsweep.data.patterns import NATURAL_PATTERNS
from robustsweep.data.sources import DATASET_SOURCES, DatasetSource, source_of
from robustsweep.input_errors import ConfigError
from robustsweep.models.architectures import ARCHITECTURES
from robustsweep.registry import Registry, StudyFacts
from robustsweep.reporting.paper_numbers import study_paper_numbers
from robustsweep.training.defences import DEFENCES


def validate_config(config: dict[str, Any]) -> dict[str, Any]:
    """Fill defaults, check the schema, every method's parameters and the cross-key rules;
    return the completed config."""
    config = copy.deepcopy(dict(config))
    _check_finite(config)
    given_splits = set((config.get("dataset") or {}).get("splits") or {})
    validate(config, load_schema())
    _expand_paths(config)
    config["defences"].setdefault("standard", {"method": "standard"})
    _check_dataset(config)
    _check_splits(config, given_splits)
    facts = StudyFacts(
        image_size=config["dataset"]["image_size"],
        attacks=tuple(config["attacks"]["methods"]),
        dataset=config["dataset"]["source"],
    )
    _resolve_methods(config["models"], "models", ARCHITECTURES, facts)
    _resolve_methods(config["attacks"]["methods"], "attacks.methods", ATTACK_METHODS, facts)
    _resolve_methods(config["defences"], "defences", DEFENCES, facts)
    _check_corruptions(config, facts)
    _check_names(config)
    _check_recipes(config)
    _check_processes(config)
    _check_patterns(config)
    _check_sweeps(config)
    _check_natural_folder(config)
    _check_pretrained(config)
    _check_augmentation(config)
    _check_explanations(config)
    _check_detector_runs(config)
    study_paper_numbers(config)  # the paper's numbers name only what the study defines
    return config


def _check_finite(value: Any, path: tuple = ()) -> None:
    """NaN and infinity nowhere in the config, whatever the key (the schema refuses them where
    it types a number; this also covers keys only a method reads)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            _check_finite(inner, (*path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            _check_finite(inner, (*path, index))
    elif isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"config key '{config_key(path)}' must be a finite number, got {value!r}")


def _expand_paths(config: dict) -> None:
    """`~` in the folder keys means the home folder, as in a shell; `results` normalised
    (`results/` and `./results` are `results`)."""
    config["results"] = os.path.normpath(os.path.expanduser(config["results"]))
    for section, keys in (("dataset", ("root", "test_root")), ("natural_adversarial", ("root",))):
        for key in keys:
            if isinstance(config[section].get(key), str):
                config[section][key] = os.path.expanduser(config[section][key])


def _check_splits(config: dict, given: set[str]) -> None:
    """The split fractions in use sum to 1: no silent rescaling. With an official test set
    (CIFAR, an imagefolder's test_root) train and pool divide the training images; a study
    that sets neither gets the defaults' 3:1 (train 0.75, pool 0.25), written into the
    resolved config that the study record keeps."""
    splits = config["dataset"]["splits"]
    official = dataset_source(config).has_official_test()
    held_out = config["dataset"].get("test_split", "official") == "held_out"
    used = ("train", "test", "pool")
    if official:
        used = ("train", "test") if held_out else ("train", "pool")
    total = sum(splits[name] for name in used)
    if not given & set(used):
        for name in used:
            splits[name] = round(splits[name] / total, 12)
        return
    if abs(total - 1) > 1e-6:
        terms = " + ".join(f"{name} {splits[name]:g}" for name in used)
        scaled = ", ".join(f"{name}: {splits[name] / total:.4g}" for name in used)
        official_note = ""
        if official:
            official_note = (
                " (test_split held_out: train and test divide the training images, the "
                "official test set is the pool)"
                if held_out
                else " (the test split is the source's official test set, so train and pool "
                "divide the training images)"
            )
        raise ConfigError(
            f"config key 'dataset.splits' sums to {total:g} ({terms}){official_note}; the "
            f"shares must sum to 1, e.g. {{{scaled}}}"
        )


def _resolve_methods(specs: dict, key: str, registry: Registry, facts: StudyFacts) -> None:
    """Validate each named spec with its method's parameters and write back the resolved
    parameters (defaults filled, derived ones computed)."""
    for name, spec in specs.items():
        method = registry.spec(spec, f"{key}.{name}", facts)
        beside = {other: spec[other] for other in registry.beside if other in spec}
        spec.clear()
        spec.update({registry.key: method.name, **method.parameters(), **beside})


def _check_dataset(config: dict) -> None:
    """The source's own options, then its files on disk (one line each)."""
    dataset = config["dataset"]
    DATASET_SOURCES.spec(dataset, "dataset", StudyFacts(image_size=dataset["image_size"]))


def _check_corruptions(config: dict, facts: StudyFacts) -> None:
    """The corrupted test set's source and its options (files on disk for a release)."""
    section = config["corruptions"]
    if "source" not in section:
        if section:
            raise ConfigError(
                "config key 'corruptions' has options but no 'source'; add 'source: "
                "imagecorruptions' (generated) or 'source: cifar_c' (the release), or remove it"
            )
        return
    method = CORRUPTIONS.spec(section, "corruptions", facts)
    section.clear()
    section.update({"source": method.name, **method.parameters()})


def dataset_source(config: dict) -> DatasetSource:
    return source_of(config["dataset"])


def _check_names(config: dict) -> None:
    models, defences = config["models"], config["defences"]
    sections = []  # a surrogate is needed only if something is attacked or mined
    if config["attacks"]["methods"]:
        sections.append("attacks")
    if "root" not in config["natural_adversarial"]:
        sections.append("natural_adversarial")
    for section in sections:
        name = config[section]["surrogate"]["model"]
        if name not in models:
            raise ConfigError(
                f"config key '{section}.surrogate.model' is '{name}', not a model under "
                f"'models'; allowed values: {', '.join(sorted(models))}"
            )
    for exp_name, grid in config["experiments"].items():
        for field, known in (("models", models), ("defences", defences)):
            for name in grid[field]:
                if name not in known:
                    raise ConfigError(
                        f"config key 'experiments.{exp_name}.{field}' names '{name}', which is "
                        f"not defined under '{field}'; allowed values: {', '.join(sorted(known))}"
                    )
    attacks = config["attacks"]["methods"]
    for name in config["evaluation"]["white_box"]:
        if name not in attacks:
            raise ConfigError(
                f"config key 'evaluation.white_box' names '{name}', which is not under "
                f"'attacks.methods'; allowed values: {', '.join(sorted(attacks)) or 'none'}"
            )
    check_budget_sweep(config)
    shards = config["evaluation"]["shards"]
    for name in shards if isinstance(shards, dict) else ():
        if name not in config["evaluation"]["white_box"]:
            raise ConfigError(
                f"config key 'evaluation.shards' names '{name}', which is not in "
                "'evaluation.white_box'; shard only white-box attacks the study runs"
            )
    for mixture, spec in config["evaluation"]["mixtures"].items():
        for name in spec["attacks"]:
            if name not in attacks:
                raise ConfigError(
                    f"config key 'evaluation.mixtures.{mixture}.attacks' names '{name}', which "
                    "is not under 'attacks.methods'; allowed values: "
                    f"{', '.join(sorted(attacks)) or 'none'}"
                )
    if config["defences"]["standard"]["method"] != "standard":
        raise ConfigError(
            "config key 'defences.standard.method' must be 'standard': the name "
            "is reserved for plain training; give your defence another name"
        )


def check_budget_sweep(config: dict) -> None:
    """`evaluation.budget_sweep` names a bounded attack under attacks.methods and known
    experiments, when it sweeps at all."""
    sweep = config["evaluation"]["budget_sweep"]
    if not sweep["eps"]:
        return
    attacks = config["attacks"]["methods"]
    if sweep["attack"] not in attacks:
        raise ConfigError(
            f"config key 'evaluation.budget_sweep.attack' is '{sweep['attack']}', not under "
            f"'attacks.methods'; allowed values: {', '.join(sorted(attacks)) or 'none'}"
        )
    if "eps" not in attacks[sweep["attack"]]:
        raise ConfigError(
            f"config key 'evaluation.budget_sweep.attack' names '{sweep['attack']}', whose "
            "method has no budget 'eps' to sweep; name a bounded attack such as pgd"
        )
    for name in sweep["experiments"]:
        if name not in config["experiments"]:
            raise ConfigError(
                f"config key 'evaluation.budget_sweep.experiments' names '{name}', not under "
                f"'experiments'; allowed values: {', '.join(sorted(config['experiments']))}"
            )


def override_schema() -> dict:
    """The `training` section's schema without its defaults: a model's or a defence's own
    recipe override names only the keys it changes."""

    def strip(node):
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k != "default"}
        return node

    return strip(load_schema()["properties"]["training"])


def _check_recipes(config: dict) -> None:
    """Recipe overrides (`models.<m>.training`, `defences.<d>.training`) are validated like the
    `training` section; every run's merged recipe must be consistent."""
    from robustsweep.job_settings import OVERRIDE, run_recipe
    from robustsweep.run_grid import experiment_runs, surrogate_runs

    schema = override_schema()
    for section in ("models", "defences"):
        for name, spec in config[section].items():
            if OVERRIDE in spec:
                validate(spec[OVERRIDE], schema, f"{section}.{name}.{OVERRIDE}")
    for name, spec in config["models"].items():
        if OVERRIDE in spec and ARCHITECTURES.build(spec).pretrained_weights:
            raise ConfigError(
                f"config key 'models.{name}.{OVERRIDE}' sets a recipe for a pretrained model, "
                "which is not trained; remove it"
            )
    for run in sorted({*experiment_runs(config), *surrogate_runs(config)}):
        model = config["models"][run.model].get(OVERRIDE, {})
        defence = config["defences"][run.defence].get(OVERRIDE, {})
        for key in sorted(set(model) & set(defence)):
            if model[key] != defence[key]:
                raise ConfigError(
                    f"config keys 'models.{run.model}.{OVERRIDE}.{key}' and "
                    f"'defences.{run.defence}.{OVERRIDE}.{key}' disagree for the runs of "
                    f"{run.model} with {run.defence}; set '{key}' in one of them"
                )
        _check_schedule(run_recipe(config, run), run)
        _check_crop(run_recipe(config, run), run)


def _check_processes(config: dict) -> None:
    """`models.<m>.data_parallel` is a count of processes, like the study's `data_parallel`;
    every run's batch must split evenly among its training job's processes."""
    from robustsweep.job_settings import PROCESSES, run_recipe
    from robustsweep.run_grid import experiment_runs, surrogate_runs

    for name, spec in config["models"].items():
        count = spec.get(PROCESSES, 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ConfigError(
                f"config key 'models.{name}.{PROCESSES}' must be a whole number of processes "
                f">= 1, got {count!r}"
            )
    for run in sorted({*experiment_runs(config), *surrogate_runs(config)}):
        own = PROCESSES in config["models"][run.model]
        count = config["models"][run.model].get(PROCESSES, config[PROCESSES])
        key = f"models.{run.model}.{PROCESSES}" if own else PROCESSES
        batch = run_recipe(config, run)["batch_size"]
        if batch % count:
            raise ConfigError(
                f"the runs of {run.model} with {run.defence} train batches of {batch} images "
                f"on {count} data-parallel processes ('{key}'); set "
                f"'{_batch_key(config, run)}' to a multiple of {count} or '{key}' to a "
                f"divisor of {batch}"
            )
        method = config["defences"][run.defence]["method"]
        if count > 1 and not DEFENCES.get(method).target.data_parallel:
            raise ConfigError(
                f"defence '{run.defence}' ({method}) is not verified under data "
                f"parallelism, but its runs of {run.model} train on {count} processes "
                f"('{key}'); set '{key}' to 1"
            )


def _batch_key(config: dict, run) -> str:
    """The config key that sets the run's batch size (the defence's override wins)."""
    from robustsweep.job_settings import OVERRIDE

    for section, name in (("defences", run.defence), ("models", run.model)):
        if "batch_size" in config[section][name].get(OVERRIDE, {}):
            return f"{section}.{name}.{OVERRIDE}.batch_size"
    return "training.batch_size"


def _check_schedule(recipe: dict, run) -> None:
    """multistep needs one lr factor per milestone, milestones ascending."""
    if recipe["scheduler"] != "multistep":
        return
    milestones, factors = recipe["lr_milestones"], recipe["lr_factors"]
    where = f"the recipe of {run.model} with {run.defence}"
    if not milestones or len(milestones) != len(factors):
        raise ConfigError(
            f"config key 'training.lr_factors' has {len(factors)} value(s) for "
            f"{len(milestones)} lr_milestones in {where}; scheduler multistep needs one factor "
            "per milestone (e.g. lr_milestones: [100, 105], lr_factors: [0.1, 0.01])"
        )
    if milestones != sorted(milestones):
        raise ConfigError(
            f"config key 'training.lr_milestones' is {milestones} in {where}; list the epochs "
            "in ascending order"
        )


def _check_crop(recipe: dict, run) -> None:
    """random_resized_crop's ranges run from low to high (torchvision only warns)."""
    for key in ("crop_scale", "crop_ratio"):
        low, high = recipe[key]
        if low > high:
            raise ConfigError(
                f"config key 'training.{key}' is [{low}, {high}] in the recipe of {run.model} "
                f"with {run.defence}; give [low, high] with low <= high, e.g. [{high}, {low}]"
            )


def _check_patterns(config: dict) -> None:
    for pattern in config["natural_adversarial"]["patterns"]:
        if pattern not in NATURAL_PATTERNS:
            raise NATURAL_PATTERNS.unknown("natural_adversarial.patterns", pattern)


def _check_sweeps(config: dict) -> None:
    source = dataset_source(config)
    pool = source.class_count()
    for exp_name, grid in config["experiments"].items():
        for n in grid["train_classes"]:
            if n > pool:
                raise ConfigError(
                    f"config key 'experiments.{exp_name}.train_classes' has N={n}, larger than "
                    f"the class pool ({pool} classes of {source.name}); "
                    f"allowed values: 2..{pool}"
                )
        smallest = min(grid["train_classes"])
        for m in grid["predicted_classes"]:
            if m > smallest:
                raise ConfigError(
                    f"config key 'experiments.{exp_name}.predicted_classes' has M={m}, larger "
                    f"than N={smallest} in 'experiments.{exp_name}.train_classes'; allowed "
                    f"values: 2..{smallest}"
                )


def _check_natural_folder(config: dict) -> None:
    """A natural adversarial folder holds the configured classes, all among the study's."""
    from robustsweep.data.sources.image_folder import _named_or_listed, check_tree

    section = config["natural_adversarial"]
    if "root" not in section:
        if config["dataset"]["splits"]["pool"] == 0:
            raise ConfigError(
                "config key 'dataset.splits.pool' is 0, but mining natural adversarial examples "
                "needs pool images; give the pool a share or set 'natural_adversarial.root'"
            )
        if "classes" in section:
            raise ConfigError(
                "config key 'natural_adversarial.classes' needs 'natural_adversarial.root' "
                "(the folder it describes); add the root or remove the classes"
            )
        return
    names = dataset_source(config).class_names()
    if names is None:
        raise ConfigError(
            "config key 'natural_adversarial.root' needs dataset source 'imagefolder' (its "
            "folders are matched to the dataset's classes by name); remove it to mine a set"
        )
    expected = _named_or_listed(section.get("classes"))
    found = check_tree(Path(section["root"]), "natural_adversarial.root", expected)
    outside = sorted(set(found) - set(names))
    if outside:
        raise ConfigError(
            f"natural adversarial folder '{section['root']}' has {len(outside)} class(es) that "
            f"are not among the study's classes: {', '.join(outside[:5])}; add them to "
            "'dataset.pool_classes' or move them out"
        )


def _check_pretrained(config: dict) -> None:
    """Pretrained models: WordNet-id classes, no defence training (the stem is each
    architecture's own check)."""
    from robustsweep.data.imagenet_classes import imagenet_synsets

    pretrained = [
        name
        for name, spec in config["models"].items()
        if ARCHITECTURES.build(spec).pretrained_weights
    ]
    for name in pretrained:
        names = dataset_source(config).class_names()
        if names is None:
            raise ConfigError(
                f"config key 'models.{name}.pretrained' needs an imagefolder dataset whose "
                "class folders are ImageNet WordNet ids; remove 'pretrained' to train it"
            )
        unknown = sorted(set(names) - set(imagenet_synsets()))
        if unknown:
            raise ConfigError(
                f"config key 'models.{name}.pretrained': class(es) {', '.join(unknown[:5])} "
                "are not ImageNet-1k WordNet ids, so the pretrained model has no logit for "
                "them; name class folders by WordNet id or remove 'pretrained'"
            )
    for exp_name, grid in config["experiments"].items():
        for name in set(grid["models"]) & set(pretrained):
            trained = [d for d in grid["defences"] if config["defences"][d]["method"] != "standard"]
            if trained:
                raise ConfigError(
                    f"config key 'experiments.{exp_name}.defences' trains {trained[0]} on the "
                    f"pretrained model '{name}', which is evaluated as published; list it in "
                    "an experiment with defences: [standard]"
                )


def _check_augmentation(config: dict) -> None:
    """crop_flip and random_resized_crop run on in-memory pixels, imagenet in the file
    index's DataLoader; a store
    over the train split would decode a file index's whole train split into memory."""
    augmentation = config["training"]["augmentation"]
    files = dataset_source(config).storage == "files"
    trained_on_stores = [
        name
        for name, spec in config["defences"].items()
        if files and DEFENCES.build(spec).stores_needed()
    ]
    if trained_on_stores:
        raise ConfigError(
            f"config key 'defences.{trained_on_stores[0]}' trains on stored attacks of the "
            "whole train split, which a file-index dataset would decode into memory; use "
            "'dataset.storage: pixels' (small trees) or an online defence (pgd_at, trades, ...)"
        )
    on_device = ("crop_flip", "random_resized_crop")
    if (augmentation == "imagenet" and not files) or (augmentation in on_device and files):
        allowed = "none, imagenet" if files else "none, crop_flip, random_resized_crop"
        raise ConfigError(
            f"config key 'training.augmentation' is '{augmentation}', which does not apply to "
            f"{'a file-index' if files else 'an in-memory'} dataset; allowed values: {allowed}"
        )


def _check_detector_runs(config: dict) -> None:
    """A defence whose model is a binary detector (ho2024's `detector`) has no class logits,
    so no white-box attack (it attacks the class label) can be run against its runs."""
    detectors = [
        name
        for name, spec in config["defences"].items()
        if DEFENCES.build(spec).output_names is not None
    ]
    for exp_name, grid in config["experiments"].items():
        chosen = [d for d in grid["defences"] if d in detectors]
        if chosen and config["evaluation"]["white_box"]:
            raise ConfigError(
                f"config key 'experiments.{exp_name}.defences' lists the detector defence "
                f"'{chosen[0]}', whose model has no class outputs to attack white-box; "
                "empty 'evaluation.white_box' or move the detector to a study without it"
            )


def _check_explanations(config: dict) -> None:
    from robustsweep.run_grid import explanation_run

    for model in config["explanations"]["models"]:
        if explanation_run(config, model) is None:
            raise ConfigError(
                f"config key 'explanations.models' names '{model}', which has no all-class "
                "standard run (N = the class pool, defence standard) in any experiment; "
                "add one or remove the model from the list"
            )
