"""Registries of methods: attacks, defences, architectures, dataset sources, natural patterns
and figures. A method is one module that registers itself where it is defined, the way timm's
`@register_model` does:

    @ATTACK_METHODS.register("fgsm", norm="Linf")
    class FGSM(AttackMethod):
        eps: float = number(8 / 255, exclusive_minimum=0, maximum=1, doc="L-inf budget")

Adding a method is adding one such file to the registry's folder; nothing else is edited.

Unlike timm, importing a registry imports none of its methods. The Snakefile plans every job
with the registries, and a job's code dependency is the source of exactly the modules it runs
(code_digest.py), so a registry must know its names without importing its folder: it reads
them from the `.register("name", ...)` calls in the folder's source (`Registry.index`). A
method's module is imported only when a study names the method (`Registry.get`).

A registered class is a frozen dataclass of the method's typed parameters, declared with the
field helpers below (`number`, `integer`, `flag`, `choice`, `text`, `names`, `mapping`): each
carries its JSON-schema type, bounds, default and a line of documentation, so the config
validation of every method's parameters comes from the method itself and reads like the rest
of the config's errors (config_schema.py).
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
from collections.abc import Callable, Iterable
from dataclasses import MISSING, dataclass, field, fields
from functools import cached_property
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from robustsweep.input_errors import ConfigError

REQUIRED: Any = MISSING  # a parameter without a default: the config must give it


def _parameter(default: Any, schema: dict, doc: str) -> Any:
    metadata = {"schema": schema, "doc": doc}
    if isinstance(default, list | dict):
        return field(default_factory=lambda: default, metadata=metadata)
    return field(default=default, metadata=metadata)


def _bounds(**bounds: float | None) -> dict:
    names = {
        "minimum": "minimum",
        "maximum": "maximum",
        "exclusive_minimum": "exclusiveMinimum",
        "exclusive_maximum": "exclusiveMaximum",
    }
    return {names[k]: v for k, v in bounds.items() if v is not None}


def number(
    default: float = REQUIRED,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: float | None = None,
    exclusive_maximum: float | None = None,
    nullable: bool = False,
    doc: str = "",
) -> Any:
    """A finite real parameter within the given bounds (`nullable`: null means the method
    derives it from the others, e.g. fast AT's step of 1.25 eps)."""
    bounds = _bounds(
        minimum=minimum,
        maximum=maximum,
        exclusive_minimum=exclusive_minimum,
        exclusive_maximum=exclusive_maximum,
    )
    json_type = ["number", "null"] if nullable else "number"
    return _parameter(default, {"type": json_type, **bounds}, doc)


def integer(
    default: int | None = REQUIRED,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    nullable: bool = False,
    doc: str = "",
) -> Any:
    """An integer parameter within the given bounds (`nullable`: null means the method's
    unbounded case, e.g. DeepFool's every class as a candidate)."""
    json_type = ["integer", "null"] if nullable else "integer"
    return _parameter(
        default, {"type": json_type, **_bounds(minimum=minimum, maximum=maximum)}, doc
    )


def flag(default: bool = REQUIRED, *, doc: str = "") -> Any:
    return _parameter(default, {"type": "boolean"}, doc)


def choice(default: Any = REQUIRED, options: Iterable = (), *, doc: str = "") -> Any:
    """One of a fixed set of values."""
    return _parameter(default, {"enum": list(options)}, doc)


def text(default: str = REQUIRED, *, pattern: str | None = None, doc: str = "") -> Any:
    schema = {"type": "string", **({"pattern": pattern} if pattern else {})}
    return _parameter(default, schema, doc)


def names(default: list[str] = REQUIRED, *, min_items: int = 1, doc: str = "") -> Any:
    """A list of distinct names (attacks, classes)."""
    schema = {
        "type": "array",
        "items": {"type": "string"},
        "minItems": min_items,
        "uniqueItems": True,
    }
    return _parameter(default, schema, doc)


def mapping(default: Any = REQUIRED, *, schema: dict, doc: str = "") -> Any:
    """A parameter with a hand-written JSON schema (nested mappings, unions)."""
    return _parameter(default, schema, doc)


@dataclass(frozen=True)
class StudyFacts:
    """What a method's cross-parameter check may need to know about the study."""

    image_size: int = 32
    attacks: tuple[str, ...] = ()  # names under attacks.methods
    dataset: str = ""  # the dataset source (dataset.source)


@dataclass(frozen=True, kw_only=True)
class Method:
    """Base of every registered method: `name` is the registered name it was built under
    (one class may serve several, e.g. resnet18/34/50); the other fields are its parameters."""

    name: str = field(metadata={"internal": True})

    def parameters(self) -> dict[str, Any]:
        """The parameters as the config spells them (JSON-compatible)."""
        return {
            f.name: _plain(getattr(self, f.name))
            for f in fields(self)
            if not f.metadata.get("internal")
        }

    def check(self, key: str, study: StudyFacts) -> None:
        """Cross-parameter checks (one parameter against another, or against the study);
        raise ConfigError naming `key`. None by default."""


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def parameter_fields(cls: type) -> list[dataclasses.Field]:
    return [f for f in fields(cls) if not f.metadata.get("internal")]


def _schema_of(f: dataclasses.Field) -> dict:
    if "schema" in f.metadata:
        return dict(f.metadata["schema"])
    default = f.default
    for python_type, name in (
        (bool, "boolean"),
        (int, "integer"),
        (float, "number"),
        (str, "string"),
    ):
        if isinstance(default, python_type):
            return {"type": name}
    return {}


def parameter_schema(cls: type, key: str, names_allowed: list[str]) -> dict:
    """JSON schema of a config spec of this method: `key` (method/architecture/source) plus
    every declared parameter with its type, bounds and default; nothing else."""
    properties: dict[str, Any] = {key: {"enum": names_allowed}}
    required = [key]
    for f in parameter_fields(cls):
        schema = _schema_of(f)
        if f.metadata.get("doc"):
            schema["description"] = f.metadata["doc"]
        if f.default is not MISSING:
            schema["default"] = _plain(f.default)
        elif f.default_factory is not MISSING:
            schema["default"] = _plain(f.default_factory())
        else:
            required.append(f.name)
        properties[f.name] = schema
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        "required": required,
    }


@dataclass(frozen=True)
class Entry:
    """One registered method: the class or function, the facts it declared, its module."""

    name: str
    target: Any
    facts: dict
    module: str

    def __getattr__(self, fact: str) -> Any:
        try:
            return self.facts[fact]
        except KeyError:
            raise AttributeError(fact) from None


class Registry:
    """Named methods of one sort (attacks, defences, ...), defined in the modules of one package
    folder."""

    def __init__(
        self,
        noun: str,
        package: str,
        key: str = "method",
        prefixes: tuple[str, ...] = (),
        beside: tuple[str, ...] = (),
    ):
        self.noun = noun  # "attack method": what one entry is called in messages
        self.package = package  # dotted name of the folder's package
        self.key = key  # the config key that names the method
        # keys of the same config mapping that are not the method's (validated elsewhere)
        self.beside = beside
        # an entry registered as "timm:" serves every name "timm:<anything>"
        self.prefixes = prefixes
        self._entries: dict[str, Entry] = {}

    # -- registration (runs when a method's module is imported) ----------------------------
    def register(self, *names: str, **facts: Any) -> Callable:
        """Class or function decorator: register it under `names` with `facts`."""

        def decorate(target):
            if isinstance(target, type) and "__dataclass_fields__" not in target.__dict__:
                target = dataclass(frozen=True, kw_only=True)(target)
            for name in names:
                self._entries[name] = Entry(name, target, dict(facts), target.__module__)
            return target

        return decorate

    # -- the index (no import) -------------------------------------------------------------
    @cached_property
    def folder(self) -> Path:
        spec = find_spec(self.package)
        return Path(spec.submodule_search_locations[0])

    @cached_property
    def index(self) -> dict[str, str]:
        """Registered name -> dotted module name, read from the folder's source."""
        found: dict[str, str] = {}
        for path in sorted(self.folder.glob("*.py")):
            if path.name == "__init__.py":
                continue
            for name in registered_names(path):
                if name in found:
                    raise RuntimeError(f"{self.noun} '{name}' is registered twice ({path})")
                found[name] = f"{self.package}.{path.stem}"
        return found

    def names(self) -> list[str]:
        """Every registered name; a prefix entry shows as e.g. 'timm:<name>'."""
        return sorted(f"{n}<name>" if n in self.prefixes else n for n in self.index)

    def resolve(self, name: Any) -> str | None:
        """The index entry that serves `name` (itself, or its prefix), None if there is none."""
        if not isinstance(name, str):
            return None
        if name in self.index and name not in self.prefixes:
            return name
        for prefix in self.prefixes:
            if name.startswith(prefix) and len(name) > len(prefix) and prefix in self.index:
                return prefix
        return None

    def __contains__(self, name: str) -> bool:
        return self.resolve(name) is not None

    def module_file(self, name: str) -> Path:
        return self.folder / (self.index[self.resolve(name)].rsplit(".", 1)[1] + ".py")

    # -- lookup (imports the one module) ---------------------------------------------------
    def get(self, name: str) -> Entry:
        """The entry serving `name` (a method's name, or an index key such as 'timm:')."""
        entry = name if name in self.index else self.resolve(name)
        if entry is None:
            raise KeyError(f"no {self.noun} '{name}'; known: {', '.join(self.names())}")
        if entry not in self._entries:
            importlib.import_module(self.index[entry])
        return self._entries[entry]

    def unknown(self, key: str, name: Any) -> ConfigError:
        return ConfigError(
            f"config key '{key}' is {name!r}, not a registered {self.noun}; "
            f"allowed values: {', '.join(self.names())}"
        )

    def spec(self, mapping: dict, key: str, study: StudyFacts | None = None) -> Method:
        """Validate a config spec (filling the method's defaults into `mapping`) and build the
        method's parameter object; `key` is the spec's place in the config, for errors.
        (Planning only: jobs `build` validated specs, without the schema machinery's yaml
        and jsonschema imports.)"""
        from robustsweep.config_schema import validate

        name = mapping.get(self.key)
        if name not in self:
            raise self.unknown(f"{key}.{self.key}", name)
        cls = self.get(name).target
        schema = parameter_schema(cls, self.key, [name])
        schema["properties"].update({other: True for other in self.beside})
        validate(mapping, schema, key)
        method = self.build(mapping)
        method.check(key, study or StudyFacts())
        return method

    def build(self, mapping: dict) -> Method:
        """The parameter object of an already validated spec (what a stage receives)."""
        name = mapping[self.key]
        cls = self.get(name).target
        ignored = {self.key, *self.beside}
        return cls(name=name, **{k: v for k, v in mapping.items() if k not in ignored})


def registered_names(path: Path) -> list[str]:
    """Names in the `<anything>.register("a", "b", ...)` calls of a source file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "register"
        ):
            for arg in node.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.append(arg.value)
    return found
