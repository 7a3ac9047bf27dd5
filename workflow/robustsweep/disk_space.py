"""Free space before big writes, and one line when a disk fills up anyway.

HDF5 can crash the process when a write meets a full disk (the prepare job was seen to
segfault with an empty log), so writers that know their size ask for the room first
(`require_free_space`); any other write that hits ENOSPC is turned into one line by the CLI
(`disk_full_message`), which also writes that line to the console when the log cannot take it.
"""

from __future__ import annotations

import errno
import shutil
from collections.abc import Iterable
from pathlib import Path

from robustsweep.input_errors import InputError

MARGIN_BYTES = 1 << 24  # HDF5 metadata, headers, a log: 16 MB on top of the estimate


class DiskFullError(InputError):
    """Not enough room for an output (checked before writing)."""


def _existing(path: Path) -> Path:
    path = Path(path).absolute()
    return next(p for p in (path, *path.parents) if p.exists())


def megabytes(nbytes: float) -> str:
    return f"{nbytes / 1e6:,.0f} MB"


def free_bytes(path: str | Path) -> int:
    """Free bytes on the filesystem that holds `path` (or would hold it)."""
    return shutil.disk_usage(_existing(Path(path))).free


def require_free_space(path: str | Path, nbytes: float, what: str) -> None:
    """Refuse to start writing `path` (about `nbytes` of `what`) where there is no room."""
    free = free_bytes(path)
    needed = nbytes * 1.05 + MARGIN_BYTES
    if free < needed:
        raise DiskFullError(
            f"not enough free space for {path} ({what}): it needs about {megabytes(needed)}, "
            f"{megabytes(free)} are free on {_existing(Path(path))}; free space (or move "
            "`results` to a larger disk) and rerun"
        )


def is_disk_full(error: BaseException) -> bool:
    """ENOSPC, however the library reported it (h5py puts the errno in its message)."""
    text = str(error)
    return isinstance(error, OSError) and (
        error.errno in (errno.ENOSPC, errno.EDQUOT)
        or "No space left on device" in text
        or "Disk quota exceeded" in text
        or "errno = 28" in text
    )


def disk_full_message(error: OSError, outputs: Iterable[str | Path]) -> str:
    """One line: which file could not be written, how much room is left, the fix."""
    where = [str(error.filename)] if getattr(error, "filename", None) else [str(p) for p in outputs]
    place = where[0] if where else "."
    try:
        free = f"{megabytes(free_bytes(place))} free"
    except OSError:
        free = "free space unknown"
    return (
        f"disk full while writing {', '.join(where) or 'the outputs'} ({free}); free space "
        "and rerun the workflow (finished outputs are kept; a store resumes at its first "
        "unfinished chunk, training at its last checkpoint)"
    )
