"""GPUs per job on a machine with several: `snakemake --cores all --resources gpu=K`.

Snakemake's `gpu` resource only counts jobs; it does not say which device a job should use,
so every job would open cuda:0. A job that may pick its device (`device: auto` or `cuda`)
claims the first GPU no other robustsweep job on this machine holds: an exclusive flock on
one file per device in a folder shared by the machine's jobs. The lock is held by the job's
process, so the kernel frees it when the job ends, however it ends. When every device is
held (more GPU jobs than GPUs), the job shares one and says so in its log.

Devices are named as CUDA numbers them for this process (CUDA_VISIBLE_DEVICES, in order), so
two jobs restricted to different devices never collide. `ROBUSTSWEEP_GPUS` (a
comma-separated list of names) stands in for the visible devices, which is how the
allocation is tested on machines without GPUs; `ROBUSTSWEEP_GPU_LOCKS` moves the lock folder.
A data-parallel training job (K processes) claims K devices the same way (`job_gpu_names`)
and hands their names to its workers as CUDA_VISIBLE_DEVICES.
Torch-free, so the test's processes start quickly.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import tempfile
from pathlib import Path

SIMULATED_GPUS = "ROBUSTSWEEP_GPUS"
LOCK_FOLDER = "ROBUSTSWEEP_GPU_LOCKS"
_claimed: dict[str, int] = {}  # device name -> open lock file descriptor, held until exit


def visible_gpus(device_count: int) -> list[str]:
    """Names of the GPUs this process sees, in CUDA's order: `ROBUSTSWEEP_GPUS` when set,
    else the first `device_count` entries of CUDA_VISIBLE_DEVICES, else 0..count-1."""
    simulated = os.environ.get(SIMULATED_GPUS)
    if simulated is not None:
        return [name.strip() for name in simulated.split(",") if name.strip()]
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible:
        return [name.strip() for name in visible.split(",")][:device_count]
    return [str(index) for index in range(device_count)]


def lock_folder() -> Path:
    """The machine's folder of device locks (shared by all users: sticky, world-writable)."""
    folder = Path(os.environ.get(LOCK_FOLDER) or Path(tempfile.gettempdir()) / "robustsweep-gpus")
    if not folder.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            folder.chmod(0o1777)
    return folder


def _try_lock(path: Path) -> int | None:
    """An fd holding an exclusive flock on `path`, or None if another process holds it."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except PermissionError:  # another user's lock file: reading is enough to lock it
        fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def claim_gpu(gpus: list[str], folder: Path | None = None) -> tuple[int, bool]:
    """(index into `gpus` of the device this process uses, whether it has it alone). The
    first free device is claimed for the rest of the process; when all are held, the job
    shares the one its process id picks."""
    for name in _claimed:
        if name in gpus:
            return gpus.index(name), True
    folder = folder or lock_folder()
    for index, name in enumerate(gpus):
        fd = _try_lock(folder / f"gpu-{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.lock")
        if fd is not None:
            _claimed[name] = fd
            return index, True
    return os.getpid() % len(gpus), False


def job_gpu_index(device_count: int) -> int:
    """The CUDA index this job should use (0 with one device); prints the choice."""
    gpus = visible_gpus(device_count)
    if len(gpus) <= 1:
        return 0
    index, alone = claim_gpu(gpus)
    if alone:
        print(f"GPU cuda:{index} (device {gpus[index]}) of {len(gpus)} claimed for this job")
    else:
        print(
            f"all {len(gpus)} GPUs are held by other robustsweep jobs; sharing cuda:{index} "
            f"(run with --resources gpu={len(gpus)} for one job per GPU)"
        )
    return index


def claim_gpus(gpus: list[str], count: int, folder: Path | None = None) -> tuple[list[int], int]:
    """(indices into `gpus` of `count` devices for this process, how many of them it holds
    alone). Free devices are claimed first, in order; when fewer than `count` are free, the
    rest are shared with other jobs (the ones this process holds no lock on, in order)."""
    folder = folder or lock_folder()
    held: list[int] = []
    for index, name in enumerate(gpus):
        if len(held) == count:
            break
        if name in _claimed:
            held.append(index)
            continue
        fd = _try_lock(folder / f"gpu-{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.lock")
        if fd is not None:
            _claimed[name] = fd
            held.append(index)
    alone = len(held)
    shared = [index for index in range(len(gpus)) if index not in held][: count - alone]
    return held + shared, alone


def job_gpu_names(device_count: int, count: int) -> list[str]:
    """The names (as CUDA_VISIBLE_DEVICES spells them) of the `count` GPUs a data-parallel
    job's workers use, claimed for the job's lifetime; prints the choice. More processes
    than visible GPUs is a config error, stated before any work."""
    gpus = visible_gpus(device_count)
    if count > len(gpus):
        from robustsweep.input_errors import ConfigError

        raise ConfigError(
            f"the training job asks for {count} data-parallel processes, one per GPU, but "
            f"{len(gpus)} GPU(s) are visible; lower data_parallel or give the job more GPUs"
        )
    indices, alone = claim_gpus(gpus, count)
    names = [gpus[index] for index in indices]
    note = "" if alone == count else f" ({count - alone} shared with other robustsweep jobs)"
    print(f"GPUs {','.join(names)} of {len(gpus)} claimed for this job's {count} processes{note}")
    return names
