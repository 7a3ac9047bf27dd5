"""Which package source files a stage runs, so editing one reruns exactly its stages.

Snakemake tracks a shell rule's command, not the Python it calls. Each rule therefore lists,
as inputs, the files of its stage module and of every robustsweep module that module imports
(at any depth, function-level imports included): edit `figures.py` and only figure rules are
out of date; edit `training.py` and training and everything downstream reruns.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

PACKAGE = "robustsweep"
PACKAGE_DIR = Path(__file__).resolve().parent


def _module_file(name: str) -> Path | None:
    """The file of a dotted robustsweep module name, found on disk without importing it."""
    base = PACKAGE_DIR.joinpath(*name.split(".")[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_package_modules(path: Path) -> set[str]:
    """robustsweep modules named by any import statement in the file."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name.split(".")[0] == PACKAGE and _module_file(name)}


@cache
def stage_sources(*modules: str) -> tuple[str, ...]:
    """Sorted source files of the `robustsweep.<module>`s and the package modules they import."""
    todo, seen = [f"{PACKAGE}.{module}" for module in modules], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(_imported_package_modules(_module_file(name)))
    files = {_module_file(name) for name in seen} - {_module_file(PACKAGE)}
    return tuple(sorted(str(path) for path in files))
