"""The config schema and the one-line errors it gives: shared by the study config and every
registry's method parameters, so a bad value reads the same wherever it sits.

jsonschema does the checking; this module adds two things it lacks: defaults filled in as the
validator descends (the jsonschema FAQ recipe), and numbers that must be finite (JSON Schema's
`number` admits NaN and infinity, and NaN passes every bound because it compares false).
Torch-free: the Snakefile validates every study before any job.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, ValidationError, validators
from jsonschema.exceptions import best_match

from robustsweep.input_errors import ConfigError

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml"

# keys whose name or meaning moved: old key -> (new key, how to rewrite it), each candidate
# named where the schema allows the new key (`source` is still dataset.source's key)
DRAW = "(a draw is one class draw and training seed); rename it"
SURROGATE = (
    "(the all-class standard model the stored attacks are crafted on and natural adversarial "
    "images are mined with is the surrogate); rename it"
)
RENAMED_KEYS: dict[str, tuple[tuple[str, str], ...]] = {
    "seeds": (("draws", DRAW),),
    "seed": (("draw", DRAW),),
    "last_stride": (
        (
            "strides",
            "(one stride digit per stage, xu2024's --strides: last_stride 1 is strides '1221', "
            "2 is the default '1222'); replace it",
        ),
    ),
    "source": (
        ("surrogate", SURROGATE),
        ("cited_from", "(where the numbers come from); rename it"),
    ),
    "reference": (("surrogate", SURROGATE),),
    "n_train_classes": (("train_classes", "(N, as in experiments.<e>.train_classes); rename it"),),
    "m_classes": (
        ("predicted_classes", "(M, as in experiments.<e>.predicted_classes); rename it"),
    ),
}


def _finite_number(checker, instance) -> bool:
    return (
        isinstance(instance, int | float)
        and not isinstance(instance, bool)
        and math.isfinite(instance)
    )


def _with_defaults(validator_class):
    """A validator that fills in `default`s as it descends and refuses NaN and infinity."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema) -> Iterator[ValidationError]:
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if isinstance(subschema, dict) and "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    checker = validator_class.TYPE_CHECKER.redefine("number", _finite_number)
    return validators.extend(validator_class, {"properties": set_defaults}, type_checker=checker)


DefaultingValidator = _with_defaults(Draft202012Validator)


def config_key(path: Sequence, prefix: str = "") -> str:
    """Dotted config key of a path inside the config, e.g. 'attacks.methods.fgsm.eps'."""
    parts = [prefix] if prefix else []
    for part in path:
        if isinstance(part, int):
            parts[-1:] = [f"{parts[-1] if parts else ''}[{part}]"]
        else:
            parts.append(str(part))
    return ".".join(parts)


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _bound_text(error: ValidationError) -> str | None:
    words = {
        "minimum": ">=",
        "exclusiveMinimum": ">",
        "maximum": "<=",
        "exclusiveMaximum": "<",
    }
    if error.validator not in words:
        return None
    bounds = [f"{words[name]} {error.schema[name]}" for name in words if name in error.schema]
    return " and ".join(bounds)


def describe(error: ValidationError, prefix: str = "") -> str:
    """Turn a schema error into one line that names the key and the allowed values."""
    key = config_key(error.absolute_path, prefix)
    if error.validator == "additionalProperties":
        allowed = ", ".join(sorted(error.schema.get("properties", {})))
        unexpected = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        where = f"'{key}'" if key else "the top level"
        renamed = [
            (old, new, hint)
            for old in unexpected
            for new, hint in RENAMED_KEYS.get(old, ())
            if new in error.schema.get("properties", {})
        ]
        if renamed:
            old, new, hint = renamed[0]
            return f"config key '{config_key([old], key)}' is now called '{new}' {hint}"
        return (
            f"unknown config key {', '.join(repr(u) for u in unexpected)} under {where}; "
            f"allowed keys: {allowed}"
        )
    if error.validator == "type":
        hint = ""
        expected = error.validator_value
        if isinstance(error.instance, str) and _looks_numeric(error.instance):
            hint = " (YAML reads 1e-3 as text: write 1.0e-3 or 0.001)"
        elif isinstance(error.instance, str) and "/" in error.instance:
            hint = " (write the value, e.g. 0.0313725 for 8/255)"
        elif isinstance(error.instance, float) and not math.isfinite(error.instance):
            return f"config key '{key}' must be a finite number, got {error.instance!r}"
        return f"config key '{key}' must be of type {expected}, got {error.instance!r}{hint}"
    if error.validator in ("enum", "const"):
        allowed = error.validator_value
        allowed = allowed if isinstance(allowed, list) else [allowed]
        return (
            f"config key '{key}' is {error.instance!r}; allowed values: "
            f"{', '.join(str(v) for v in allowed)}"
        )
    if error.validator == "uniqueItems":
        seen, duplicates = set(), []
        for item in error.instance:
            if item in seen and item not in duplicates:
                duplicates.append(item)
            seen.add(item)
        return f"config key '{key}' lists {duplicates} more than once; list each value once"
    if error.validator == "pattern" and error.validator_value.startswith("^[A-Za-z]"):
        # a mapping's key (propertyNames) is reported at the mapping; a value at itself
        where = list(error.absolute_path)
        if "propertyNames" not in error.absolute_schema_path:
            where = where[:-1]
        parent = config_key(where, prefix) or "the top level"
        return (
            f"name {error.instance!r} under '{parent}' must "
            "start with a letter and use only letters, digits and underscores"
        )
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in error.instance][0]
        about = error.schema.get("properties", {}).get(missing, {}).get("description")
        hint = f" ({about})" if about else ""
        return f"config key '{config_key([missing], key)}' is required{hint}; add it"
    if (bounds := _bound_text(error)) is not None:
        return f"config key '{key}' is {error.instance!r}; it must be {bounds}"
    if error.validator in ("minItems", "maxItems"):
        return f"config key '{key}' has {len(error.instance)} item(s): {error.message}"
    return f"config key '{key}': {error.message}"


def validate(instance: Any, schema: dict, prefix: str = "") -> None:
    """Fill the schema's defaults into `instance` and raise ConfigError with one line for the
    most relevant violation."""
    error = best_match(DefaultingValidator(schema).iter_errors(instance))
    if error is not None:
        raise ConfigError(describe(error, prefix))


@cache
def _schema_text() -> str:
    return SCHEMA_PATH.read_text()


def load_schema() -> dict:
    """The study config's schema (a fresh copy: callers may fill it in)."""
    return yaml.safe_load(_schema_text())


def section_defaults(section: str) -> dict:
    """The defaults of one top-level config section, as a study without it would get them."""
    filled: dict = {}
    root = load_schema()
    # the section's own schema, with the root's $defs its references point into
    schema = {**root["properties"][section], "$defs": root.get("$defs", {})}
    validate(filled, schema, section)
    return filled
