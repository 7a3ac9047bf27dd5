"""Per-image (size, modification time) of a file index, sealed at prepare and checked on read.

A file-index dataset (`dataset.storage: files`) stores image paths, not pixels, so its seal
alone would let an image replaced after `prepare` be read as if nothing had changed. Hashing
every image's bytes would cost a full read of an ImageNet-size tree per job; a stat per file
costs a few seconds, and judges a changed file the way make and Snakemake judge freshness: by
its size and modification time (in nanoseconds, as the filesystem keeps it). An edit that
keeps both (a tool that restores the old mtime) is not seen; `touch` on an unchanged image is
(and is refused like a change: the index cannot tell).

Every reader of a file index checks the images of the split it reads before reading them, so
a changed tree stops the job with one line naming the first changed image instead of
training or scoring on other pixels than those the study's earlier outputs saw.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from robustsweep.input_errors import FileCheckError

SIZES, MTIMES = "file_sizes", "file_mtimes_ns"


def file_stats(paths: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(bytes, modification time in ns) of every path, as int64 arrays."""
    stats = [os.stat(path) for path in paths]
    sizes = np.fromiter((stat.st_size for stat in stats), np.int64, len(stats))
    mtimes = np.fromiter((stat.st_mtime_ns for stat in stats), np.int64, len(stats))
    return sizes, mtimes


def _when(mtime_ns: int) -> str:
    return datetime.fromtimestamp(mtime_ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def check_unchanged(
    paths: list[str], sizes: np.ndarray, mtimes: np.ndarray, dataset: str | Path
) -> None:
    """One line naming the first image whose size or modification time differs from those
    sealed when `dataset` was prepared (or that is gone), and how many more do."""
    changed: list[str] = []
    for path, size, mtime in zip(paths, sizes.tolist(), mtimes.tolist(), strict=True):
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            changed.append(f"image {path} is gone")
            continue
        if stat.st_size != size or stat.st_mtime_ns != mtime:
            changed.append(
                f"image {path} changed after the index was made ({size} bytes modified "
                f"{_when(mtime)} then, {stat.st_size} bytes modified {_when(stat.st_mtime_ns)} "
                "now)"
            )
    if changed:
        more = f" (and {len(changed) - 1} more)" if len(changed) > 1 else ""
        raise FileCheckError(
            f"{dataset}: {changed[0]}{more}; the file index no longer describes the image "
            "tree: restore the image, or delete the prepared dataset and rerun the workflow "
            "(it indexes the tree again, and reruns what was made from it)"
        )
