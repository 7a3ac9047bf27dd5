"""The method reference: docs/methods.md is what `python -m robustsweep methods` prints, it
covers every registry of the package and every method in it, it is the same on any machine,
and every method's docstring names its source."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from conftest import REPO
from robustsweep import cli
from robustsweep.method_reference import (
    REGENERATE,
    SECTIONS,
    documentation,
    grouped_entries,
    method_reference,
    registry_of,
    trainer_class,
)

PACKAGE = REPO / "workflow" / "robustsweep"

# A method's source, as its docstring names it: an author and year ("Madry et al. 2018",
# "Kannan, Kurakin and Goodfellow 2018", "Deep Residual Networks, 2016"), a study named after
# its paper ("tan2022"), an arXiv id, or this project's own design.
SOURCE = re.compile(
    r"[A-Z][\w'-]*(?:\s+et\s+al\.)?,?\s+\(?(?:19|20)\d\d\b"
    r"|\b[a-z]+(?:19|20)\d\d\b"
    r"|arXiv:? ?\d{4}\.\d{4,5}"
    r"|this\s+project's\s+own"
)


def names_a_source(text: str) -> bool:
    return bool(SOURCE.search(text))


@pytest.fixture(scope="module")
def reference() -> str:
    return method_reference()


def test_docs_methods_md_is_the_generated_reference(reference):
    written = (REPO / "docs" / "methods.md").read_text()
    assert written == reference, (
        f"docs/methods.md differs from the generated method reference; regenerate it: "
        f"{REGENERATE} (or make methods)"
    )


def test_the_cli_prints_the_reference(reference, capsys):
    assert cli.main(["methods"]) == 0
    assert capsys.readouterr().out == reference


def registry_instances(root: Path, package: str = "robustsweep") -> set[str]:
    """'module:NAME' of every `NAME = Registry(...)` in the source under `root`."""
    found = set()
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        module = ".".join([package, *(parts[:-1] if parts[-1] == "__init__" else parts)])
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Call)
                and getattr(node.value.func, "id", None) == "Registry"
            ):
                found |= {f"{module}:{target.id}" for target in node.targets}
    return found


def test_every_registry_of_the_package_is_in_the_reference():
    assert registry_instances(PACKAGE) == {section.registry for section in SECTIONS}


def test_a_new_registry_would_be_found(tmp_path):
    """Negative control: a Registry assigned in a planted package module is found."""
    (tmp_path / "filters").mkdir()
    (tmp_path / "filters" / "__init__.py").write_text(
        'from robustsweep.registry import Registry\n\nFILTERS = Registry("filter", __name__)\n'
    )
    (tmp_path / "other.py").write_text("x = dict()\n")
    assert registry_instances(tmp_path) == {"robustsweep.filters:FILTERS"}


def test_every_registered_name_has_its_heading(reference):
    headings = set(re.findall(r"^### (.+)$", reference, re.M))
    shown = {name for line in headings for name in re.findall(r"`([^`]+)`", line)}
    for section in SECTIONS:
        assert set(registry_of(section).names()) <= shown, section.title


def test_the_reference_is_the_same_on_any_machine(reference):
    assert method_reference() == reference
    assert not re.search(r"0x[0-9a-f]{6,}", reference), "an object address"
    machine_paths = [str(REPO), "/tmp/", "site-packages"]
    if Path.home() != Path("/"):  # a home of / is in every path
        machine_paths.append(str(Path.home()))
    for machine_path in machine_paths:
        assert machine_path not in reference, machine_path


def every_entry() -> list:
    return [
        pytest.param(entry, id=names[0])
        for section in SECTIONS
        for names, entry in grouped_entries(registry_of(section))
    ]


@pytest.mark.parametrize("entry", every_entry())
def test_every_method_docstring_names_its_source(entry):
    text = documentation(entry)
    assert text != "(no docstring)", f"{entry.module} has no docstring"
    assert names_a_source(text), (
        f"the docstring of '{entry.name}' ({entry.module}) names no source: give the paper as "
        "author and year (Madry et al. 2018), the study (tan2022), an arXiv id, or say it is "
        "this project's own"
    )


@pytest.mark.parametrize(
    "text, names",
    [
        ("Madry et al. 2018's PGD adversarial training.", True),
        ("adversarial logit pairing (Kannan, Kurakin and Goodfellow 2018).", True),
        ("He et al.'s ResNet (Identity Mappings in Deep Residual Networks, 2016)", True),
        ("tan2022's sampler", True),
        ("as in arXiv:1706.06083", True),
        ("A grid of occluders: this project's own.", True),
        ("Madry et al.'s PGD adversarial training.", False),
        ("Projected gradient descent (torchattacks.PGD), 10 steps.", False),
        ("ImageNet-1k classes, 1000 of them, 224 px.", False),
    ],
)
def test_the_source_rule_tells_a_citation_from_none(text, names):
    """Negative control of the docstring rule: a name without a year, or none, fails."""
    assert names_a_source(text) is names


def test_every_defence_says_whether_it_trains_under_autocast():
    """`training.precision` reads the trainer's autocast_safe: the reference shows it for every
    defence, from the class `build` is annotated to return (None where it is not)."""
    defences = registry_of(next(s for s in SECTIONS if s.title == "Defences"))
    for names, entry in grouped_entries(defences):
        assert trainer_class(entry.target) is not None, names

    class Unannotated:
        def build(self, context):
            return None

    assert trainer_class(Unannotated) is None
