"""The results folder: where it may be, and one writer at a time.

Before any job (dry runs included) `check_results_folder` refuses a `results` that is the
filesystem root, the workflow's checkout (or a folder holding it), or an existing folder with
files robustsweep did not write: the workflow writes and deletes under `results`, so a wrong
path must never reach a job. When Snakemake starts executing (the Snakefile's `onstart`),
`lock_results_folder` takes an exclusive lock on `<results>/.robustsweep.lock` and writes the
owner into it (checkout, working folder, host, pid): a second Snakemake, from another clone or
another working folder, refuses with one line naming the owner instead of running every job
a second time beside it. The lock is an flock held by the Snakemake process, so the kernel
drops it when that process ends, however it ends: a lock file left by a killed run is simply
taken over. The lock file also marks the folder as a results folder.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from pathlib import Path
from typing import TextIO

from robustsweep.atomic_output import check_output_folder
from robustsweep.input_errors import ConfigError
from robustsweep.results_layout import DATASET, TOP_LEVEL

LOCK_NAME = ".robustsweep.lock"
# the file every study writes first; a folder holding it was made by robustsweep
FIRST_OUTPUT = Path(DATASET)
# what a results folder holds at its top (a folder of only these was written by a study, one
# from before the lock file or stopped before its first output)
LAYOUT = TOP_LEVEL
_held: dict[Path, TextIO] = {}


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


# hidden entries a results folder may hold: the lock, and Snakemake's own folder where the
# results folder is also Snakemake's working folder
OWN_HIDDEN = {LOCK_NAME, ".snakemake"}


def check_results_folder(folder: str | Path, checkout: str | Path) -> None:
    """One line, before any job, if `folder` cannot or must not receive the study's outputs.

    A folder of other files is refused, hidden ones included: `results: "~"` with a home
    folder of only dotfiles would otherwise receive data/, logs/ and runs/.
    """
    if "{" in str(folder) or "}" in str(folder):
        raise ConfigError(
            f"results folder '{folder}' has braces, which Snakemake reads as wildcards in every "
            "output path; braces are not allowed in the results path: rename the folder"
        )
    check_output_folder(folder)
    target = Path(folder).absolute().resolve()
    repository = Path(checkout).resolve()
    if target == Path(target.anchor):
        raise ConfigError(
            f"results folder '{folder}' is the filesystem root; set `results` to a folder of "
            "its own (e.g. results)"
        )
    if _inside(repository, target):
        what = "is" if target == repository else "holds"
        raise ConfigError(
            f"results folder '{folder}' {what} the workflow's checkout ({repository}); set "
            "`results` to a folder of its own (e.g. results)"
        )
    if not target.is_dir() or (target / LOCK_NAME).exists() or (target / FIRST_OUTPUT).exists():
        return
    foreign = sorted(
        entry.name
        for entry in target.iterdir()
        if entry.name not in OWN_HIDDEN and entry.name not in LAYOUT
    )
    if foreign:
        more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        shown = ", ".join(foreign[:3]) + more
        raise ConfigError(
            f"results folder '{folder}' already holds files robustsweep did not write ({shown}); "
            "set `results` to a new or empty folder, or to one a study wrote"
        )


def _owner(checkout: str | Path) -> dict:
    return {
        "checkout": str(Path(checkout).resolve()),
        "workdir": os.getcwd(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }


def lock_results_folder(folder: str | Path, checkout: str | Path) -> None:
    """Hold `<folder>/.robustsweep.lock` for the rest of this process, or refuse with one line
    naming the Snakemake that holds it."""
    path = Path(folder).absolute() / LOCK_NAME
    if path in _held:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # noqa: SIM115 - held open: the lock lives as long as the process
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        try:
            owner = json.loads(handle.read())
        except ValueError:
            owner = {}
        handle.close()
        raise ConfigError(
            f"results folder '{folder}' is being written by another Snakemake (checkout "
            f"{owner.get('checkout', '?')}, working folder {owner.get('workdir', '?')}, pid "
            f"{owner.get('pid', '?')} on {owner.get('host', '?')}); wait for it to finish or "
            "set `results` to another folder"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps(_owner(checkout), sort_keys=True) + "\n")
    handle.flush()
    _held[path] = handle


def unlock_results_folder(folder: str | Path) -> None:
    """Release the lock early (the process's end releases it anyway)."""
    handle = _held.pop(Path(folder).absolute() / LOCK_NAME, None)
    if handle is not None:
        handle.close()
