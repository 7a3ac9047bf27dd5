"""`offline_adversarial`: replace a fraction of each batch with stored adversarial images.

Seed 001's scheme without online attacks: every sample is swapped, with probability `ratio`,
for the stored adversarial version of the same clean image under one of `attacks`, drawn
uniformly. The stores live on the training device as uint8, so mixing costs one gather.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from torch import nn

PARAMETERS = frozenset({"ratio", "attacks"})


def stores_needed(spec) -> list[str]:
    return list(spec["attacks"])


class OfflineAdversarial:
    def __init__(self, stored: torch.Tensor, ratio: float):
        self.stored = stored  # (n_attacks, n_train, C, H, W) uint8 on the device
        self.ratio = ratio

    def loss(
        self,
        model: nn.Module,
        images: torch.Tensor,
        targets: torch.Tensor,
        positions: torch.Tensor,
        generator: torch.Generator,
    ):
        import torch
        from torch.nn.functional import cross_entropy

        swap = torch.rand(len(images), generator=generator) < self.ratio
        which = torch.randint(len(self.stored), (len(images),), generator=generator)
        if swap.any():
            swap_dev = swap.to(images.device)
            chosen = self.stored[which[swap].to(images.device), positions[swap_dev]]
            images = images.clone()
            images[swap_dev] = chosen.float().div_(255.0)
        logits = model(images)
        return cross_entropy(logits, targets), logits


def build(params: dict, context) -> OfflineAdversarial:
    """Load the train-split stores and check they line up with the train split row by row."""
    import numpy as np
    import torch

    from robustsweep.adversarial_store import read_store

    expected = context.train_indices.cpu().numpy()
    stacks = []
    for name in params["attacks"]:
        samples = read_store(context.store_paths[name])
        if not np.array_equal(samples.clean_index, expected):
            raise ValueError(
                f"{context.store_paths[name]}: store rows do not match the train "
                "split; it was made from another prepared dataset, rerun it"
            )
        stacks.append(torch.from_numpy(samples.images).permute(0, 3, 1, 2))
    return OfflineAdversarial(torch.stack(stacks).to(context.device), float(params["ratio"]))
