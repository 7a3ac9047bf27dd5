"""This process's place among a run's data-parallel training processes, and the one
collective the data and validation code need (a sum over the ranks).

A leaf module (torch only), so that the data loader, robust validation and the defences use
it without importing the launcher and DDP wrappers of training/data_parallel.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Ranks:
    """This process's place among the run's training processes."""

    rank: int = 0
    size: int = 1

    @property
    def writes(self) -> bool:
        """Only rank 0 prints, checkpoints and writes the run's outputs."""
        return self.rank == 0


def ranks() -> Ranks:
    if dist.is_available() and dist.is_initialized():
        return Ranks(dist.get_rank(), dist.get_world_size())
    return Ranks()


def share(length: int, place: Ranks) -> slice:
    """This rank's contiguous part of a batch of `length`: the first `length % size` ranks
    take one more (torch.tensor_split's rule)."""
    base, extra = divmod(length, place.size)
    start = place.rank * base + min(place.rank, extra)
    return slice(start, start + base + (place.rank < extra))


def sum_over_ranks(values: torch.Tensor) -> torch.Tensor:
    """Element-wise sum over the ranks (the tensor itself with one process)."""
    if ranks().size > 1:
        dist.all_reduce(values)
    return values
