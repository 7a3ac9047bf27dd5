"""benchmarks/gpu_check.py (issue #35): its CPU mode passes here with only what a GPU node's
site image has (torch, torchvision, h5py, pandas, scikit-learn and their dependencies) plus
the wheels `make gpu-wheels` downloads importable, so the GPU check cannot rot before a GPU
is at hand, and the wheel list is what the package really imports."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
from importlib import metadata

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
from gpu_check import NODE_HAS, NODE_WHEELS  # noqa: E402

BLOCKER = """
import runpy, sys
allowed = set(sys.argv[1].split(","))

class NotOnTheNode:
    '''Every finder, for the modules a GPU node has; for the others none (what
    importlib.util.find_spec probes then see: not installed).'''

    def __init__(self, finders):
        self.finders = finders

    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top not in allowed and top not in sys.stdlib_module_names and top[0] != "_":
            return None
        for finder in self.finders:
            spec = finder.find_spec(name, path, target) if hasattr(finder, "find_spec") else None
            if spec is not None:
                return spec
        return None

    def invalidate_caches(self):
        for finder in self.finders:
            if hasattr(finder, "invalidate_caches"):
                finder.invalidate_caches()

sys.meta_path[:] = [NotOnTheNode(list(sys.meta_path))]
sys.argv = [sys.argv[2], "--cpu"]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def closure(names) -> set[str]:
    """The distributions `names` need, at any depth (extras left out)."""
    seen, todo = set(), [metadata.distribution(n).metadata["Name"] for n in names]
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        seen.add(key)
        for requirement in metadata.distribution(name).requires or []:
            if "extra ==" in requirement:
                continue
            dependency = re.match(r"[A-Za-z0-9_.\\-]+", requirement).group(0)
            # a dependency for another platform or Python is not installed: left out
            with contextlib.suppress(metadata.PackageNotFoundError):
                todo.append(metadata.distribution(dependency).metadata["Name"])
    return seen


def importable(distributions: set[str]) -> set[str]:
    """The top-level module names these distributions install."""
    tops = set()
    for module, owners in metadata.packages_distributions().items():
        if any(re.sub(r"[-_.]+", "-", o).lower() in distributions for o in owners):
            tops.add(module)
    return tops


def test_the_cpu_mode_passes_with_only_what_a_gpu_node_has_and_the_wheels():
    ours = {"robustsweep", "gpu_check", "run_benchmarks"}  # the checkout's own modules
    allowed = importable(closure(NODE_HAS)) | set(NODE_WHEELS.values()) | ours
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            BLOCKER,
            ",".join(sorted(allowed)),
            str(REPO / "benchmarks" / "gpu_check.py"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=REPO,
    )
    lines = run.stdout.splitlines()
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    summary = next(line for line in lines if line.startswith("summary:"))
    assert " 0 failed" in summary
    checks = {line[5:39].strip() for line in lines if line[:4] in ("ok  ", "skip")}
    for name in (
        "train standard",
        "store test/pgd-10",
        "white-box file pgd-10",
        "white-box 2 shards = 1 job",
        "AutoAttack",
        "P10 training",
        "P11 store",
    ):
        assert name in checks, name  # fmt: skip
    assert any(line.startswith("ok   white-box 2 shards") for line in lines)
    assert "| P13 |" in run.stdout and "not applicable on the CPU" in run.stdout
