"""Training augmentation done on the training device, on uint8 batches.

The train split lives on the device as uint8 (training.py), so the standard CIFAR recipe
(random crop from a zero-padded image, random horizontal flip) is done there with one gather
instead of in DataLoader workers. Written here because torchvision's v2 transforms draw one
crop for a whole batch tensor, while the recipe draws one per image. The draws come from the
epoch's seeded CPU generator, so a run is identical on every device and after a resume.
"""

from __future__ import annotations

import torch

AUGMENTATIONS = ("none", "crop_flip")


def crop_flip(images: torch.Tensor, generator: torch.Generator, padding: int = 4) -> torch.Tensor:
    """Per image: a random HxW crop of the image zero-padded by `padding`, flipped
    left-right with probability 1/2. uint8 (B, C, H, W) in, same shape and dtype out."""
    batch, _, height, width = images.shape
    offsets = torch.randint(0, 2 * padding + 1, (2, batch), generator=generator)
    flips = torch.rand(batch, generator=generator) < 0.5
    offsets, flips = offsets.to(images.device), flips.to(images.device)
    padded = torch.nn.functional.pad(images, (padding,) * 4)
    rows = offsets[0, :, None] + torch.arange(height, device=images.device)
    cols = offsets[1, :, None] + torch.arange(width, device=images.device)
    cols = torch.where(flips[:, None], cols.flip(1), cols)
    index = torch.arange(batch, device=images.device)[:, None, None]
    # (B, H, W, C) from advanced indexing on dims 0, 2, 3 -> back to (B, C, H, W)
    return padded.permute(0, 2, 3, 1)[index, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def augment(images: torch.Tensor, name: str, generator: torch.Generator) -> torch.Tensor:
    """Apply the configured augmentation (`training.augmentation`) to a uint8 batch."""
    if name == "none":
        return images
    return crop_flip(images, generator)
