"""Provenance: which code, packages and inputs produced a file or a whole study."""

from __future__ import annotations

import hashlib
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from robustsweep.atomic_output import write_json
from robustsweep.stage_settings import RecordSettings

TRACKED_PACKAGES = ("robustsweep", "torch", "torchvision", "torchattacks", "numpy", "h5py")
STUDY_PACKAGES = (
    *TRACKED_PACKAGES,
    "scipy",
    "scikit-learn",
    "pandas",
    "matplotlib",
    "seaborn",
    "safetensors",
    "snakemake",
    "tqdm",
)


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str]:
    """Installed versions of the packages that decide the numbers."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def file_sha256(path: Path) -> str:
    """Content hash, so a store records exactly which surrogate weights attacked it."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git_commit(folder: Path) -> str:
    """The checked-out commit of the workflow, with '-dirty' for uncommitted edits, or
    'unknown' outside a git checkout (a release tarball, say)."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


def record_stage(*, settings: RecordSettings, commit: str, metrics: Path, output: Path) -> None:
    """The record is rewritten with the metric table, so its commit is the code that
    produced the folder's latest numbers."""
    write_study_record(output, settings.config, commit)


def write_study_record(output: Path, config: dict, commit: str) -> None:
    """The resolved config, package versions and commit that a results folder came from."""
    write_json(
        output,
        {
            "config": config,
            "git_commit": commit,
            "versions": package_versions(STUDY_PACKAGES),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    )
