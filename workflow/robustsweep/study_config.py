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
    return config


def _check_names(config: dict) -> None:
    models, defences = config["models"], config["defences"]
    for role in ("attacks", "natural_adversarial"):
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


DEFAULT_ROOTS = {"cifar10": "resources/cifar", "cifar100": "resources/cifar"}


def _check_dataset(spec: dict) -> None:
    """Fill the source's default folder, then let the source check its files on disk."""
    source = spec["source"]
    if "classes" in spec and source != "imagefolder":
        raise ConfigError(
            f"config key 'dataset.classes' applies to source 'imagefolder' only, not "
            f"'{source}' (whose classes are fixed); remove it"
        )
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
