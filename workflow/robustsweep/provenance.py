"""Provenance helpers: which code and inputs produced a file."""

from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path

TRACKED_PACKAGES = ("robustsweep", "torch", "torchvision", "torchattacks", "numpy", "h5py")


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
    """Content hash, so a store records exactly which source weights attacked it."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
