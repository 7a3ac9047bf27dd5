"""The results folder's layout is written once (robustsweep/results_layout.py): every path
template, file name and name pattern; the test-set names once too (robustsweep/set_names.py,
apart so that a new path reruns no evaluation job). A guard reads the package and the rules
for results paths and test-set prefixes spelt anywhere else; the rest checks that the
layout's templates, the regexes read back from them and the objects formatted from them
agree."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from robustsweep import results_layout as layout
from robustsweep import set_names

PACKAGE = REPO / "workflow" / "robustsweep"
LAYOUT = PACKAGE / "results_layout.py"
SET_NAMES = PACKAGE / "set_names.py"  # where the test-set prefixes are spelt (and no path)

# a results path or file name: a folder of the results, a run folder's field, a file of a run
PATH_PATTERNS = [
    r"\bruns/",
    r"\bstore/",
    r"\bsubsets/",
    r"(^|/)tables/",
    r"(^|/)figures/",
    r"(^|/)data/\w+\.h5",
    r"(?<![A-Za-z])N\{",
    r"\bdraw\{",
    r"white_?box/",
    r"\.safetensors\b",
    r"\bstudy_record\.json",
    r"\b(logits|budget_sweep)\.h5",
    r"\b(epochs|per_image)\.csv",
]
# a test-set name spelt from its prefix: a string starting with one
PREFIX = re.compile(r"^(attack|white_?box|mix|hybrid|budget|worst)-")

# file (relative to the repository) -> the one literal it may keep, and why
ALLOWED = {
    # the training job names its last epoch's weights beside the selected ones; moving the
    # name into the layout would change the train stage's code digest and retrain every run
    "workflow/robustsweep/training/training_loop.py": "last.safetensors",
    # the file identity's readers dispatch on the suffix, not on a results path; file_identity
    # is in every stage's closure (code_digest.py), so importing the layout reruns every job
    "workflow/robustsweep/file_identity.py": ".safetensors",
}


def _docstrings(tree: ast.AST) -> set[int]:
    nodes = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    return {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, nodes)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }


def _is_results_path(text: str, prefixes: bool = True) -> bool:
    """Does `text` spell a results path (or, with `prefixes`, start with a test-set prefix)?"""
    path = any(re.search(pattern, text) for pattern in PATH_PATTERNS)
    return path or (prefixes and bool(PREFIX.match(text)))


def python_violations(path: Path, prefixes: bool = True) -> list[str]:
    """String literals of a module (docstrings aside; an f-string with `{}` for each field) that
    spell a results path or a test-set prefix."""
    tree = ast.parse(path.read_text(), str(path))
    skip = _docstrings(tree)
    texts = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):  # f"runs/{m}/N{n}" read as "runs/{}/N{}"
            parts = [v.value if isinstance(v, ast.Constant) else "{}" for v in node.values]
            texts.append((node.lineno, "".join(map(str, parts))))
            skip.update(id(value) for value in node.values)
        elif (
            isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
        ):
            texts.append((node.lineno, node.value))
    return [
        f"{path}:{line}: {text!r}"
        for line, text in sorted(texts)
        if _is_results_path(text, prefixes)
    ]


def rule_violations(path: Path) -> list[str]:
    """Quoted strings of a Snakefile or .smk (comments aside) that spell a results path."""
    found = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        code = line.split("#", 1)[0]
        for quoted in re.findall(r"\"([^\"]*)\"|'([^']*)'", code):
            text = "".join(quoted)
            if _is_results_path(text):
                found.append(f"{path}:{number}: {text!r}")
    return found


def violations(root: Path, allowed: dict[str, str]) -> list[str]:
    """Every results path spelt in the package or the rules under `root`, less `allowed` (the
    benchmarks write scratch files of their own, e.g. `tiny-surrogate.safetensors`)."""
    found = []
    for path in sorted((root / "workflow").rglob("*.py")):
        if path.resolve() == LAYOUT.resolve():
            continue
        relative = path.relative_to(root).as_posix()
        names_only = path.resolve() == SET_NAMES.resolve()
        found += [
            line
            for line in python_violations(path, prefixes=not names_only)
            if not (relative in allowed and allowed[relative] in line)
        ]
    for path in sorted([*root.glob("Snakefile"), *(root / "rules").glob("*.smk")]):
        found += rule_violations(path)
    return found


def test_no_results_path_outside_the_layout():
    assert violations(REPO, ALLOWED) == []


def test_the_guard_catches_a_path_or_prefix_planted_outside_the_layout(tmp_path):
    (tmp_path / "workflow").mkdir()
    (tmp_path / "rules").mkdir()
    (tmp_path / "workflow" / "planted.py").write_text(
        '"""Docstrings may say runs/<model>/N<n> and `attack-*`."""\n'
        "def folder(run):\n"
        '    return f"runs/{run.model}/N{run.n}"\n'
        'NAME = "white_box-" + "pgd"\n'
        'LEGIT = "plain text"\n'
    )
    (tmp_path / "rules" / "planted.smk").write_text(
        "# a comment may say store/<split>\n"
        "rule x:\n"
        '    output: f"{R}/store/{{split}}/{{attack}}.h5"\n'
    )
    found = violations(tmp_path, {})
    assert len(found) == 3, found
    assert any("planted.py:3: 'runs/{}/N{}'" in line for line in found)
    assert any("'white_box-'" in line for line in found)
    assert any("planted.smk:3" in line for line in found)
    # and an allow-list entry lets exactly its literal through
    allowed = {"workflow/planted.py": "'white_box-'"}
    assert len(violations(tmp_path, allowed)) == 2


def test_the_schema_name_pattern_is_the_layouts():
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    assert schema["$defs"]["name"]["pattern"] == f"^{layout.NAME}$"
    # config_schema.describe recognises it (a bad name gets the name's own message)
    assert schema["$defs"]["name"]["pattern"].startswith("^[A-Za-z]")


@pytest.mark.parametrize(
    "template, path, groups",
    [
        (layout.run_file(layout.WEIGHTS), "runs/cnn/N10/draw2/mart/weights.safetensors", {}),
        (layout.STORE, "store/train/pgd.h5", {"split": "train", "attack": "pgd"}),
        (layout.SUBSET, "subsets/N5/draw0.json", {"n": "5", "draw": "0"}),
        (
            layout.run_file(layout.WHITE_BOX_SHARD),
            "runs/cnn/N10/draw2/mart/white_box/pgd.shard1of4.h5",
            {"attack": "pgd", "shard": "1", "shards": "4"},
        ),
    ],
)
def test_a_templates_pattern_reads_back_what_it_formats(template, path, groups):
    match = re.fullmatch(layout.pattern(template), path)
    assert match is not None
    assert {key: match[key] for key in groups} == groups


def test_a_templates_pattern_refuses_other_paths():
    white_box = layout.pattern(layout.run_file(layout.WHITE_BOX))
    assert re.fullmatch(white_box, "runs/cnn/N10/draw2/mart/white_box/pgd.shard1of4.h5") is None
    assert re.fullmatch(white_box, "runs/cnn/N10/draw2/mart/whitebox/pgd.h5") is None
    assert re.fullmatch(layout.pattern(layout.STORE), "store/val/pgd.h5") is None
    assert re.fullmatch(layout.pattern(layout.STORE), "store/test/1pgd.h5") is None


def test_run_and_attacked_set_files_are_formatted_from_the_layout():
    from robustsweep.run_grid import AttackedSet, Run

    run = Run("cnn", 10, 2, "mart")
    assert run.folder == "runs/cnn/N10/draw2/mart"
    assert AttackedSet(set_names.WHITE_BOX_SET, "test", "pgd", run).file == (
        "runs/cnn/N10/draw2/mart/white_box/pgd.h5"
    )
    assert AttackedSet(set_names.STORE_SET, "train", "pgd", run).file == "store/train/pgd.h5"


def test_test_set_names_share_one_spelling_of_white_box():
    assert set_names.white_box_set("pgd") == "white_box-pgd"
    assert set_names.WORST_WHITE_BOX == "worst-white_box"
    assert set_names.restricted_set("pgd", 3, 1) == "white_box-pgd@m3-trial1"
    assert set_names.attacked_test_set(set_names.WHITE_BOX_SET, "pgd") == "white_box-pgd"
    assert set_names.attacked_test_set(set_names.STORE_SET, "pgd") == "attack-pgd"
    assert set_names.hybrid_set("attack-fgsm", 0.25) == "hybrid-fgsm-25pct"
