"""Config validation: schema defaults, then one-line errors naming the key and the fix.

Runs in the Snakefile before any job is scheduled, so it must stay light: no torch import.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, ValidationError, validators
from jsonschema.exceptions import best_match

from robustsweep.attack_registry import attack_method_parameters
from robustsweep.dataset_sources import check_source, class_count
from robustsweep.defences import check_defence, defence_method_parameters, stores_needed
from robustsweep.input_errors import ConfigError

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml"


def _with_defaults(validator_class):
    """A validator that fills in `default`s as it descends (the jsonschema FAQ recipe)."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema) -> Iterator[ValidationError]:
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if isinstance(subschema, dict) and "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults})


DefaultingValidator = _with_defaults(Draft202012Validator)


def _key(path) -> str:
    parts = []
    for part in path:
        parts.append(f"[{part}]" if isinstance(part, int) else f".{part}")
    return "".join(parts).lstrip(".") or "(top level)"


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def describe(error: ValidationError) -> str:
    """Turn a schema error into one line that names the key and the allowed values."""
    key = _key(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = ", ".join(sorted(error.schema.get("properties", {})))
        unexpected = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        where = f"'{key}'" if error.absolute_path else "the top level"
        return (
            f"unknown config key {', '.join(repr(u) for u in unexpected)} under {where}; "
            f"allowed keys: {allowed}"
        )
    if error.validator == "type":
        hint = ""
        if isinstance(error.instance, str) and _looks_numeric(error.instance):
            hint = " (YAML reads 1e-3 as text: write 1.0e-3 or 0.001)"
        return (
            f"config key '{key}' must be of type {error.validator_value}, "
            f"got {error.instance!r}{hint}"
        )
    if error.validator == "enum":
        allowed = ", ".join(str(v) for v in error.validator_value)
        return f"config key '{key}' is {error.instance!r}; allowed values: {allowed}"
    if error.validator == "uniqueItems":
        seen, duplicates = set(), []
        for item in error.instance:
            if item in seen and item not in duplicates:
                duplicates.append(item)
            seen.add(item)
        return f"config key '{key}' lists {duplicates} more than once; list each value once"
    if error.validator == "pattern" and error.validator_value.startswith("^[A-Za-z]"):
        return (
            f"name {error.instance!r} under '{_key(list(error.absolute_path)[:-1])}' must "
            "start with a letter and use only letters, digits and underscores"
        )
    if error.validator == "required":
        return f"config key '{key}' is missing a required entry: {error.message}"
    return f"config key '{key}': {error.message}"


def load_schema() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def validate_config(config: dict[str, Any]) -> dict[str, Any]:
    """Fill defaults, check the schema and the cross-key rules; return the completed config."""
    config = copy.deepcopy(dict(config))
    error = best_match(DefaultingValidator(load_schema()).iter_errors(config))
    if error is not None:
        raise ConfigError(describe(error))
    config["defences"].setdefault("standard", {"method": "standard"})
    _check_names(config)
    _check_methods(config)
    _check_dataset(config["dataset"])
    _check_sweeps(config)
    _check_natural_folder(config)
    _check_pretrained(config)
    _check_augmentation(config)
    _check_explanations(config)
    return config


def _check_names(config: dict) -> None:
    models, defences = config["models"], config["defences"]
    roles = []  # a support model is needed only if something is attacked or mined
    if config["attacks"]["methods"]:
        roles.append("attacks")
    if "root" not in config["natural_adversarial"]:
        roles.append("natural_adversarial")
    for role in roles:
        key = "source" if role == "attacks" else "reference"
        name = config[role][key]["model"]
        if name not in models:
            raise ConfigError(
                f"config key '{role}.{key}.model' is '{name}', not a model under "
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


def _check_method_spec(key: str, spec: dict, registry: dict[str, frozenset[str]]) -> None:
    """A `method` must be registered and take every other key of the spec as a parameter."""
    method = spec.get("method")
    if method not in registry:
        raise ConfigError(
            f"config key '{key}.method' is '{method}', not a registered method; "
            f"allowed values: {', '.join(sorted(registry))}"
        )
    unknown = sorted(set(spec) - {"method"} - registry[method])
    if unknown:
        raise ConfigError(
            f"config key '{key}' has unknown parameter(s) {', '.join(unknown)} "
            f"for {method}; allowed: {', '.join(sorted(registry[method]))}"
        )


def _check_methods(config: dict) -> None:
    attacks = config["attacks"]["methods"]
    for name, spec in attacks.items():
        _check_method_spec(f"attacks.methods.{name}", spec, attack_method_parameters())
    for name, spec in config["defences"].items():
        _check_method_spec(f"defences.{name}", spec, defence_method_parameters())
        check_defence(name, spec)
        for attack in stores_needed(spec):
            if attack not in attacks:
                raise ConfigError(
                    f"config key 'defences.{name}.attacks' names '{attack}', which is not under "
                    f"'attacks.methods'; allowed values: {', '.join(sorted(attacks)) or 'none'}"
                )
    for name in config["evaluation"]["white_box"]:
        if name not in attacks:
            raise ConfigError(
                f"config key 'evaluation.white_box' names '{name}', which is not under "
                f"'attacks.methods'; allowed values: {', '.join(sorted(attacks)) or 'none'}"
            )
    if config["defences"]["standard"]["method"] != "standard":
        raise ConfigError(
            "config key 'defences.standard.method' must be 'standard': the name "
            "is reserved for plain training; give your defence another name"
        )


FOLDER_ONLY_KEYS = ("classes", "pool_classes", "test_root", "storage")
DEFAULT_ROOTS = {"cifar10": "resources/cifar", "cifar100": "resources/cifar"}


def _check_dataset(spec: dict) -> None:
    """Fill the source's default folder, then let the source check its files on disk."""
    source = spec["source"]
    for key in FOLDER_ONLY_KEYS:
        if key in spec and source != "imagefolder":
            raise ConfigError(
                f"config key 'dataset.{key}' applies to source 'imagefolder' only, not "
                f"'{source}' (whose classes and files are fixed); remove it"
            )
    if source == "imagefolder":
        spec.setdefault("storage", "files")
    if source == "imagefolder" and "root" not in spec:
        raise ConfigError(
            "config key 'dataset.root' is required for source 'imagefolder': the folder "
            "holding one sub-folder of images per class"
        )
    if source in DEFAULT_ROOTS:
        spec.setdefault("root", DEFAULT_ROOTS[source])
    check_source(spec)


def _check_sweeps(config: dict) -> None:
    pool = class_count(config["dataset"])
    for exp_name, grid in config["experiments"].items():
        for n in grid["train_classes"]:
            if n > pool:
                raise ConfigError(
                    f"config key 'experiments.{exp_name}.train_classes' has N={n}, larger than "
                    f"the class pool ({pool} classes of {config['dataset']['source']}); "
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


def _dataset_class_names(config: dict) -> list[str] | None:
    """The study's class names in label order, for folder datasets (None for the others)."""
    from robustsweep.dataset_sources.image_folder import pool_classes

    spec = config["dataset"]
    return pool_classes(spec) if spec["source"] == "imagefolder" else None


def _check_natural_folder(config: dict) -> None:
    """A natural adversarial folder holds the configured classes, all among the study's."""
    from robustsweep.dataset_sources.image_folder import check_tree, expected_classes

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
    names = _dataset_class_names(config)
    if names is None:
        raise ConfigError(
            "config key 'natural_adversarial.root' needs dataset source 'imagefolder' (its "
            "folders are matched to the dataset's classes by name); remove it to mine a set"
        )
    found = check_tree(Path(section["root"]), "natural_adversarial.root", expected_classes(section))
    outside = sorted(set(found) - set(names))
    if outside:
        raise ConfigError(
            f"natural adversarial folder '{section['root']}' has {len(outside)} class(es) that "
            f"are not among the study's classes: {', '.join(outside[:5])}; add them to "
            "'dataset.pool_classes' or move them out"
        )


STEM_FAMILIES = ("resnet18", "resnet34", "resnet50", "vgg19_bn", "repvgg_a2", "shufflenet_v2")


def _check_pretrained(config: dict) -> None:
    """Pretrained models: the published stem, WordNet-id classes, no defence training."""
    from robustsweep.imagenet_classes import imagenet_synsets

    pretrained = [name for name, spec in config["models"].items() if spec.get("pretrained")]
    for name in pretrained:
        spec = config["models"][name]
        if spec["architecture"].startswith(STEM_FAMILIES) and spec.get("small_input_stem", True):
            raise ConfigError(
                f"config key 'models.{name}' is pretrained, so it needs small_input_stem: false "
                "(the ImageNet stem its weights were trained with); add it"
            )
        names = _dataset_class_names(config)
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
    """crop_flip runs on in-memory pixels, imagenet in the file index's DataLoader; a store
    over the train split would decode a file index's whole train split into memory."""
    augmentation = config["training"]["augmentation"]
    files = config["dataset"].get("storage") == "files"
    trained_on_stores = [
        name for name, spec in config["defences"].items() if files and stores_needed(spec)
    ]
    if trained_on_stores:
        raise ConfigError(
            f"config key 'defences.{trained_on_stores[0]}' trains on stored attacks of the "
            "whole train split, which a file-index dataset would decode into memory; use "
            "'dataset.storage: pixels' (small trees) or an online defence (pgd_at, trades, ...)"
        )
    if (augmentation == "imagenet" and not files) or (augmentation == "crop_flip" and files):
        allowed = "none, imagenet" if files else "none, crop_flip"
        raise ConfigError(
            f"config key 'training.augmentation' is '{augmentation}', which does not apply to "
            f"{'a file-index' if files else 'an in-memory'} dataset; allowed values: {allowed}"
        )


def _check_explanations(config: dict) -> None:
    from robustsweep.study_plan import explanation_run

    for model in config["explanations"]["models"]:
        if explanation_run(config, model) is None:
            raise ConfigError(
                f"config key 'explanations.models' names '{model}', which has no all-class "
                "standard run (N = the class pool, defence standard) in any experiment; "
                "add one or remove the model from the list"
            )
