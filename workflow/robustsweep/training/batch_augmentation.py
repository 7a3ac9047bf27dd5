"""Training augmentation done on the training device, on uint8 batches.

The train split lives on the device as uint8 (training.py), so the standard CIFAR recipe
(random crop from a zero-padded image, random horizontal flip) is done there with one gather
instead of in DataLoader workers; so is torchvision's random-resized crop and flip
(random_resized_crop.py, tan2022's recipe). Written here because torchvision's v2 transforms
draw one crop for a whole batch tensor, while the recipe draws one per image. The draws come
from the epoch's seeded CPU generator, so a run is identical on every device and after a
resume. Defences that swap stored adversarial images into a batch augment those too
(offline_adversarial.py), as the authors' transform applies to every image it loads.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from robustsweep.training.random_resized_crop import random_resized_crop_flip

AUGMENTATIONS = ("none", "crop_flip", "random_resized_crop")


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


@dataclass(frozen=True)
class BatchAugmentation:
    """The recipe's augmentation (`training.augmentation`, and `crop_scale` / `crop_ratio`
    for random_resized_crop), applied to uint8 batches with the epoch's generator."""

    name: str = "none"
    crop_scale: tuple[float, float] = (0.08, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)

    @classmethod
    def of(cls, recipe) -> BatchAugmentation:
        """The augmentation a TrainingRecipe configures."""
        return cls(recipe.augmentation, tuple(recipe.crop_scale), tuple(recipe.crop_ratio))

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if self.name == "none":
            return images
        if self.name == "crop_flip":
            return crop_flip(images, generator)
        if self.name == "random_resized_crop":
            return random_resized_crop_flip(images, generator, self.crop_scale, self.crop_ratio)
        # 'imagenet' runs in a file index's DataLoader workers (data/image_files.py)
        raise ValueError(f"augmentation '{self.name}' is not done on the training device")


def augment(images: torch.Tensor, name: str, generator: torch.Generator) -> torch.Tensor:
    """Apply a named augmentation with its default parameters to a uint8 batch."""
    return BatchAugmentation(name)(images, generator)
