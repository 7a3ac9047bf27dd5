"""Atomic file outputs: a killed job never leaves a file that looks complete.

Every stage writes through `atomic_path`: the work goes to a temporary sibling and is renamed
over the final name only when the block finishes without an exception. `os.replace` is atomic on
one filesystem, so Snakemake (or a user) sees either no file or the whole file.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from robustsweep.input_errors import ConfigError


def partial_path(path: Path) -> Path:
    """The name a file has while it is being written (kept between attempts when resumable)."""
    return path.with_name(path.name + ".partial")


@contextlib.contextmanager
def atomic_path(path: str | Path, keep_on_error: bool = False) -> Iterator[Path]:
    """Yield a temporary path; rename it to `path` on success, remove it on failure.

    `keep_on_error=True` leaves the partial file for a resumable writer to continue from.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_path(final)
    try:
        yield tmp
    except BaseException:
        if not keep_on_error:
            tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, final)


def write_json(path: str | Path, payload: Any) -> None:
    """Write JSON atomically with stable key order, so identical content gives identical bytes."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")


def write_text(path: str | Path, text: str) -> None:
    """Write text atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def check_output_folder(folder: str | Path) -> None:
    """Fail before any job if outputs cannot be created under `folder`.

    Looks at the nearest existing ancestor, so a dry run creates nothing.
    """
    target = Path(folder).absolute()
    existing = next(p for p in (target, *target.parents) if p.exists())
    if not existing.is_dir():
        raise ConfigError(
            f"results folder '{folder}' cannot be created: {existing} is a file, "
            "not a folder; set `results` to a folder path"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(
            f"results folder '{folder}' is not writable ({existing} denies "
            "writing); set `results` to a writable folder or fix its permissions"
        )
