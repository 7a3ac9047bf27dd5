"""Which package code a job runs, by content, so editing a module reruns exactly its jobs.

Snakemake tracks a shell rule's command, not the Python it calls. Each rule therefore carries
two params (tracked like any param: a changed value reruns the job): `code`, the source
digest of its stage's modules and of every robustsweep module they import (at any depth,
function-level imports included), and `methods`, the same for the registered methods the job
selects (its attack, defence, architecture, dataset source, natural patterns or figure).
Registries import their methods only by name at run time (registry.py), so an unused method
is in no job's closure: editing `defences/mart.py` reruns only MART runs; adding an attack
module reruns nothing until a study names it.

A digest is of the file's code: its syntax tree without comments, docstrings or layout,
listed as `path=sha256[:12]` relative to the package. So rewording a docstring, a comment or
reformatting reruns nothing (a figure's caption, its function's docstring, is the figure
rule's own param), moving the checkout, touching a file or `git checkout` back and forth
changes nothing, and a dry run's reason ("Params have changed ... before: ... now: ...")
names the module whose code moved.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterable
from functools import cache
from pathlib import Path

PACKAGE = "robustsweep"
PACKAGE_DIR = Path(__file__).resolve().parent
# wiring every job runs but that computes nothing: editing it reruns nothing
WIRING = frozenset({f"{PACKAGE}", f"{PACKAGE}.cli", f"{PACKAGE}.__main__"})


def module_file(name: str) -> Path | None:
    """The file of a dotted robustsweep module name, found on disk without importing it."""
    base = PACKAGE_DIR.joinpath(*name.split(".")[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@cache
def imported_modules(path: Path) -> frozenset[str]:
    """robustsweep modules named by any import statement in the file (and their parent
    packages, whose __init__ runs first)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    found = set()
    for name in names:
        parts = name.split(".")
        if parts[0] != PACKAGE:
            continue
        for depth in range(2, len(parts) + 1):
            prefix = ".".join(parts[:depth])
            if module_file(prefix):
                found.add(prefix)
    return frozenset(found)


@cache
def closure(*modules: str) -> frozenset[str]:
    """The dotted names of `modules` (given relative to the package) and every package module
    they import, transitively; the package's wiring left out."""
    todo, seen = [f"{PACKAGE}.{module}" for module in modules], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = module_file(name)
        if path is None:
            raise ModuleNotFoundError(f"no package module {name}")
        todo.extend(imported_modules(path))
    return frozenset(seen - WIRING)


@cache
def file_digest(path: Path) -> str:
    """sha256 of the module's syntax tree, docstrings left out (ast.dump drops comments,
    layout and line numbers)."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest()[:12]


def digest(names: Iterable[str]) -> str:
    """`relative/path.py=digest` of each module, sorted, space-separated."""
    files = sorted(module_file(name) for name in names)
    return " ".join(f"{path.relative_to(PACKAGE_DIR)}={file_digest(path)}" for path in files)


def stage_code(*modules: str) -> str:
    """Digest of the stage modules and everything they import."""
    return digest(closure(*modules))


def method_code(method_modules: Iterable[str], *stage_modules: str) -> str:
    """Digest of the selected methods' modules (dotted names) and what they import, less
    what the stage already counts; "none" for a job that selects no method."""
    shared = closure(*stage_modules) if stage_modules else frozenset()
    relative = [name.removeprefix(f"{PACKAGE}.") for name in method_modules]
    own = closure(*relative) - shared if relative else frozenset()
    return digest(own) or "none"


def stage_files(*modules: str) -> list[Path]:
    """The source files of a stage's closure (for tests and listings)."""
    return sorted(module_file(name) for name in closure(*modules))
