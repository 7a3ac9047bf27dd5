"""No import circle among the package's modules (issue #32).

Every `import robustsweep...` and `from robustsweep... import ...` counts, also those inside
functions: a deferred import still ties two modules together (the circle broken here ran
image_files -> data_parallel -> training_loop -> image_files through deferred imports).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "workflow" / "robustsweep"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, modules: set[str]) -> set[str]:
    """The package modules `source` imports: `from a.b import c` is a.b.c when that is a
    module, else a.b."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in modules else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found & modules


def import_graph() -> dict[str, set[str]]:
    files = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    names = set(files)
    return {
        name: imported_modules(path.read_text(), names) - {name} for name, path in files.items()
    }


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_package_has_no_import_circle():
    graph = import_graph()
    assert len(graph) > 100  # the walk saw the package, not an empty folder
    assert circles(graph) == []


def test_the_walk_finds_a_circle_through_a_deferred_import():
    """The negative control: the circle this test was written for, as three sources."""
    sources = {
        "robustsweep.data.image_files": "def f():\n    from robustsweep.ranks import share\n",
        "robustsweep.ranks": "from robustsweep.training import loop\n",
        "robustsweep.training.loop": "import robustsweep.data.image_files\n",
        "robustsweep.training": "",
    }
    graph = {name: imported_modules(text, set(sources)) - {name} for name, text in sources.items()}
    assert circles(graph) == [
        ["robustsweep.data.image_files", "robustsweep.ranks", "robustsweep.training.loop"]
    ]
