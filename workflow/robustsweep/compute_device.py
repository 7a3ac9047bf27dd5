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


def configure_threads(threads: int) -> None:
    """Use exactly the cores Snakemake granted the job, so parallel jobs do not oversubscribe."""
    torch.set_num_threads(max(1, int(threads)))


def configure(compute: Compute) -> torch.device:
    """Set the job's threads and return its device."""
    configure_threads(compute.threads)
    return select_device(compute.device)
