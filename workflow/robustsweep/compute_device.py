"""Choosing where tensors live: the GPU when present (or asked for), else the CPU."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from robustsweep.gpu_allocation import job_gpu_index
from robustsweep.input_errors import InputError

if TYPE_CHECKING:
    from robustsweep.stage_settings import Compute


def select_device(requested: str = "auto") -> torch.device:
    """Resolve the config's `device` ('auto', 'cpu', 'cuda', 'cuda:1') to a torch device.

    Asking for CUDA on a machine without it is a config error, not a silent CPU fallback,
    because a study sized for a GPU would otherwise run for days on the CPU. 'auto' and 'cuda'
    on a machine with several GPUs claim one for the job (gpu_allocation.py); 'cuda:1' is
    used as given.
    """
    if requested == "auto" and not torch.cuda.is_available():
        return torch.device("cpu")
    device = torch.device("cuda" if requested == "auto" else requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(
            f"device: '{requested}' was requested but no CUDA device is visible; "
            "set device: auto or device: cpu in the config"
        )
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", job_gpu_index(torch.cuda.device_count()))
    return device


def check_device_here(requested: str) -> None:
    """Refuse, before any job, a CUDA `device` this machine cannot give a local run.

    Called when Snakemake is about to run jobs here (not in dry runs, which do not know where
    their jobs would run, nor for a cluster executor, whose nodes are other machines); without
    it every training job would fail one after the other, after the data jobs had run.
    """
    if not requested.startswith("cuda"):
        return
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    index = torch.device(requested).index
    if count and (index is None or index < count):
        return
    build = f"CUDA {torch.version.cuda} build" if torch.version.cuda else "a CPU-only build"
    has = (
        f"{count} CUDA device(s), cuda:0 to cuda:{count - 1}"
        if count
        else f"no CUDA device that torch can use (torch {torch.__version__}, {build})"
    )
    raise InputError(
        f"config key 'device' is '{requested}', but this machine has {has}; set device: auto "
        "(GPU when present, else CPU) or device: cpu, or run the study where the GPU is"
    )


def configure_threads(threads: int) -> None:
    """Use exactly the cores Snakemake granted the job, so parallel jobs do not oversubscribe."""
    torch.set_num_threads(max(1, int(threads)))


def configure(compute: Compute) -> torch.device:
    """Set the job's threads and return its device."""
    configure_threads(compute.threads)
    return select_device(compute.device)
