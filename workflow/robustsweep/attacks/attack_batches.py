"""Running an attack over a batch that may not fit the device."""

from __future__ import annotations

import torch


def attack_in_parts(attacker, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Run the attack on the batch, halving it while the device runs out of memory.

    Lets `attacks.batch_size` be set for the largest GPU a study runs on: a smaller one
    attacks each chunk in parts instead of failing (the chunk layout on disk is unchanged).
    """
    try:
        return attacker(images, targets).detach()
    except torch.cuda.OutOfMemoryError:
        if len(images) == 1:
            raise
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        half = len(images) // 2
        print(f"out of device memory attacking {len(images)} images; retrying in halves")
        return torch.cat(
            [
                attack_in_parts(attacker, images[:half], targets[:half]),
                attack_in_parts(attacker, images[half:], targets[half:]),
            ]
        )
