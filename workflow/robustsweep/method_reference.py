"""The method reference (docs/methods.md), generated from the registries themselves.

Every registry (registry.py) lists its methods, each method declares its typed parameters
(type, bounds, default, a line of documentation) and its docstring names where it comes from,
so a hand-written list of attacks, defences or figures can only drift from the code: a new
method module would appear nowhere in it. `python -m robustsweep methods` prints this
reference and tests/test_method_reference.py keeps docs/methods.md equal to it (`make methods`
regenerates the file). The text depends on the source alone: sorted names, paths relative to
the package, no object addresses.
"""

from __future__ import annotations

import ast
import importlib
import json
import sys
from dataclasses import MISSING, dataclass
from pathlib import Path
from typing import Any

from robustsweep.registry import Entry, Registry, parameter_fields

PACKAGE = Path(__file__).resolve().parent
REGENERATE = "python -m robustsweep methods > docs/methods.md"


@dataclass(frozen=True)
class Section:
    """One registry in the reference: where it lives and where a study names its methods."""

    registry: str  # "package:NAME" of the Registry instance
    title: str
    named_by: str  # how a study selects the methods of this registry


# Pipeline order. tests/test_method_reference.py checks that every Registry instance of the
# package is here.
SECTIONS: tuple[Section, ...] = (
    Section(
        "robustsweep.data.sources:DATASET_SOURCES",
        "Dataset sources",
        "a study names one by `dataset.source`",
    ),
    Section(
        "robustsweep.data.patterns:NATURAL_PATTERNS",
        "Natural adversarial patterns",
        "a study lists those it mines with in `natural_adversarial.patterns`",
    ),
    Section(
        "robustsweep.data.corruptions:CORRUPTIONS",
        "Corruption sources",
        "a study names one by `corruptions.source`",
    ),
    Section(
        "robustsweep.attacks.methods:ATTACK_METHODS",
        "Attacks",
        "a study names one by `attacks.methods.<name>.method`",
    ),
    Section(
        "robustsweep.models.architectures:ARCHITECTURES",
        "Architectures",
        "a study names one by `models.<name>.architecture`",
    ),
    Section(
        "robustsweep.training.defences:DEFENCES",
        "Defences",
        "a study names one by `defences.<name>.method`",
    ),
    Section(
        "robustsweep.reporting.tables:TABLES",
        "Tables",
        "every one is a section of `tables/tables.md`, placed by its `order`",
    ),
    Section(
        "robustsweep.reporting.figures:FIGURES",
        "Figures",
        "every one is drawn, into `figures/<name>.<figures.format>`",
    ),
)


def registry_of(section: Section) -> Registry:
    module, name = section.registry.split(":")
    return getattr(importlib.import_module(module), name)


def method_reference() -> str:
    """The whole reference as Markdown."""
    sections = [(section, registry_of(section)) for section in SECTIONS]
    lines = [
        "# Method reference",
        "",
        "<!-- Generated from the registries; do not edit. Regenerate with",
        f"     {REGENERATE}  (or: make methods) -->",
        "",
        "Every registered method, read from the registries (`workflow/robustsweep/`,",
        "registry.py): its parameters with their type, bounds and default, what its class",
        "declares to the rest of the workflow, and its docstring, which names its source (a",
        "paper, or this project's own design). Adding a method is adding one module to its",
        "registry's folder ([extending.md](extending.md)); it then appears here.",
        "",
    ]
    for section, registry in sections:
        count = len(registry.index)
        anchor = section.title.lower().replace(" ", "-")
        lines.append(f"- [{section.title}](#{anchor}): {count} registered")
    lines.append("")
    for section, registry in sections:
        lines += render_section(section, registry)
    return "\n".join(lines).rstrip("\n") + "\n"


def render_section(section: Section, registry: Registry) -> list[str]:
    folder = registry.folder.relative_to(PACKAGE).as_posix()
    lines = [
        f"## {section.title}",
        "",
        f"Folder `workflow/robustsweep/{folder}/`; {section.named_by}.",
        "",
    ]
    for names, entry in grouped_entries(registry):
        lines += render_entry(names, entry)
    return lines


def grouped_entries(registry: Registry) -> list[tuple[list[str], Entry]]:
    """(display names, entry) per registered class or function, in name order; one class
    registered under several names (resnet18/34/50) is one entry."""
    groups: dict[int, tuple[list[str], Entry]] = {}
    for name in sorted(registry.index):
        entry = registry.get(name)
        shown = f"{name}<name>" if name in registry.prefixes else name
        groups.setdefault(id(entry.target), ([], entry))[0].append(shown)
    return sorted(groups.values(), key=lambda group: group[0][0])


def render_entry(names: list[str], entry: Entry) -> list[str]:
    lines = [f"### {', '.join(f'`{name}`' for name in names)}", ""]
    facts = [f"`{source_path(entry)}`"]
    facts += [f"{key} `{plain(value)}`" for key, value in sorted(entry.facts.items())]
    facts += [f"{key} `{plain(value)}`" for key, value in declared_attributes(entry.target)]
    lines += [" · ".join(facts), ""]
    lines += [documentation(entry), ""]
    if isinstance(entry.target, type):
        lines += parameter_table(entry.target)
    return lines


def source_path(entry: Entry) -> str:
    return "workflow/robustsweep/" + module_file(entry).relative_to(PACKAGE).as_posix()


def module_file(entry: Entry) -> Path:
    return Path(sys.modules[entry.module].__file__).resolve()


def documentation(entry: Entry) -> str:
    """The method's docstring: its module's (one module per method, or per family such as the
    environment patterns), then its class's or function's own, if written (a dataclass's
    generated signature is not one)."""
    tree = ast.parse(module_file(entry).read_text())
    own = next(
        (
            ast.get_docstring(node)
            for node in tree.body
            if isinstance(node, ast.ClassDef | ast.FunctionDef)
            and node.name == entry.target.__name__
        ),
        None,
    )
    text = "\n\n".join(part for part in (ast.get_docstring(tree), own) if part)
    return text or "(no docstring)"


def declared_attributes(target: Any) -> list[tuple[str, Any]]:
    """What a method's class declares to the rest of the workflow (its ClassVars: an attack's
    `black_box`, a defence's `data_parallel`, ...), and for a defence whether its trainer runs
    under bf16 autocast (`autocast_safe`, what `training.precision` reads)."""
    if not isinstance(target, type):
        return []
    names = sorted(
        {
            name
            for klass in target.__mro__
            for name, annotation in vars(klass).get("__annotations__", {}).items()
            if "ClassVar" in str(annotation) and not name.isupper()  # not constants
        }
    )
    found = [(name, getattr(target, name)) for name in names]
    trainer = trainer_class(target)
    if trainer is not None:
        found.append(("autocast_safe", trainer.autocast_safe))
    return found


def trainer_class(target: type) -> type | None:
    """The DefenceTrainer class a defence's `build` returns, read from its annotation."""
    build = getattr(target, "build", None)
    annotation = getattr(build, "__annotations__", {}).get("return")
    if annotation is None:
        return None
    if isinstance(annotation, str):
        module = sys.modules[build.__module__]
        annotation = eval(annotation, vars(module))  # noqa: S307 - our own source
    return annotation if hasattr(annotation, "autocast_safe") else None


def parameter_table(cls: type) -> list[str]:
    rows = []
    for f in parameter_fields(cls):
        schema = dict(f.metadata.get("schema", {}))
        if f.default is not MISSING:
            default = f"`{plain(f.default)}`"
        elif f.default_factory is not MISSING:
            default = f"`{plain(f.default_factory())}`"
        else:
            default = "required"
        doc = " ".join(f.metadata.get("doc", "").split())
        cells = [f"`{f.name}`", type_of(schema), bounds_of(schema), default, doc]
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    if not rows:
        return ["No parameters.", ""]
    return [
        "| parameter | type | bounds | default | description |",
        "|---|---|---|---|---|",
        *rows,
        "",
    ]


BOUNDS = (
    ("exclusiveMinimum", "> {}"),
    ("minimum", ">= {}"),
    ("exclusiveMaximum", "< {}"),
    ("maximum", "<= {}"),
)


def bounds_of(schema: dict) -> str:
    return ", ".join(text.format(plain(schema[key])) for key, text in BOUNDS if key in schema)


def type_of(schema: dict) -> str:
    """A JSON schema in words: `number`, `list of text`, `one of Linf, L2`, ..."""
    if "enum" in schema:
        return "one of " + ", ".join(f"`{plain(v)}`" for v in schema["enum"])
    for union in ("anyOf", "oneOf"):
        if union in schema:
            return " or ".join(describe(part) for part in schema[union])
    json_type = schema.get("type", "any")
    json_types = json_type if isinstance(json_type, list) else [json_type]
    words = []
    for one in json_types:
        if one == "array":
            items = schema.get("items", {})
            word = f"list of {describe(items)}"
            if schema.get("minItems", 0) > 1:
                word += f" (at least {schema['minItems']})"
            if schema.get("maxItems") is not None:
                word += f" (at most {schema['maxItems']})"
            words.append(word)
        elif one == "object":
            values = schema.get("additionalProperties")
            words.append(
                f"mapping to {describe(values)}" if isinstance(values, dict) else "mapping"
            )
        elif one == "string" and "pattern" in schema:
            words.append(f"text matching `{schema['pattern']}`")
        else:
            words.append({"string": "text", "boolean": "true/false"}.get(one, one))
    return " or ".join(words)


def describe(schema: dict) -> str:
    """A nested schema in words, with its bounds."""
    words = type_of(schema)
    bounds = bounds_of(schema)
    return f"{words} ({bounds})" if bounds else words


def plain(value: Any) -> str:
    """A value as a config would spell it (YAML-like JSON), with floats shortened."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(plain(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {plain(v)}" for k, v in value.items()) + "}"
    return str(value)


def _number(value: float) -> str:
    """Six significant digits; a budget the papers write as k/255 also says so."""
    text = f"{value:.6g}"
    steps = value * 255
    if len(text) > 6 and abs(steps - round(steps)) < 1e-9:
        return f"{text} ({round(steps)}/255)"
    return text


def main() -> int:
    sys.stdout.write(method_reference())
    return 0
