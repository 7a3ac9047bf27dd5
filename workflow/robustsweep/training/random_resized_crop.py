"""Random-resized crop and horizontal flip of uint8 batches, on the training device.

torchvision's `v2.RandomResizedCrop(size, scale, ratio)` followed by `RandomHorizontalFlip()`
(tan2022's training transform, with the image's own size as `size`): per image, a box covering
a share of the area drawn uniformly in `scale` with an aspect ratio (width / height) drawn
log-uniformly in `ratio`, ten tries before falling back to the largest centred box within
`ratio`, its position uniform, then a bilinear resize of the box to the image's size and a
left-right flip with probability 1/2. Written here because v2 draws one box for a whole batch
tensor while the recipe draws one per image; the draws are vectorised, so the boxes follow
torchvision's distribution, not its sequence of random numbers. All draws come from the
epoch's seeded CPU generator, like crop_flip's (batch_augmentation.py).
"""

from __future__ import annotations

import math

import torch

ATTEMPTS = 10  # torchvision's tries before its centred fallback box


def fallback_box(height: int, width: int, ratio: tuple[float, float]) -> tuple[int, int]:
    """(box height, box width) when no try fits: torchvision's whole image, trimmed to the
    nearest bound of `ratio` when the image's own aspect ratio lies outside it."""
    aspect = width / height
    if aspect < min(ratio):
        return int(round(width / min(ratio))), width
    if aspect > max(ratio):
        return height, int(round(height * max(ratio)))
    return height, width


def draw_crops(
    count: int,
    height: int,
    width: int,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`count` boxes (top, left, box height, box width) as an int64 (count, 4) CPU tensor,
    drawn as torchvision's RandomResizedCrop.get_params draws one, and `count` flip flags."""
    area = height * width
    shares = torch.rand(count, ATTEMPTS, generator=generator, dtype=torch.float64)
    logs = torch.rand(count, ATTEMPTS, generator=generator, dtype=torch.float64)
    places = torch.rand(count, 2, generator=generator, dtype=torch.float64)
    flips = torch.rand(count, generator=generator) < 0.5
    target = area * (scale[0] + (scale[1] - scale[0]) * shares)
    low, high = math.log(ratio[0]), math.log(ratio[1])
    aspect = torch.exp(low + (high - low) * logs)
    # torch.round halves to even, as Python's round in torchvision does
    box_w = torch.round(torch.sqrt(target * aspect)).long()
    box_h = torch.round(torch.sqrt(target / aspect)).long()
    fits = (box_w > 0) & (box_w <= width) & (box_h > 0) & (box_h <= height)
    first = fits.long().argmax(1, keepdim=True)  # the first try that fits
    box_h, box_w = box_h.gather(1, first)[:, 0], box_w.gather(1, first)[:, 0]
    top = (places[:, 0] * (height - box_h + 1)).long()
    left = (places[:, 1] * (width - box_w + 1)).long()
    boxes = torch.stack([top, left, box_h, box_w], 1)
    fell_back = ~fits.any(1)
    if fell_back.any():
        fall_h, fall_w = fallback_box(height, width, ratio)
        centred = torch.tensor([(height - fall_h) // 2, (width - fall_w) // 2, fall_h, fall_w])
        boxes[fell_back] = centred
    return boxes, flips


def _source_index(
    start: torch.Tensor, length: torch.Tensor, size: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For each of `size` output positions of each box: the two source pixels and the weight
    of the second, as torch's bilinear resize (align_corners=False) computes them. Boxes are
    never larger than the output, so antialiasing (which v2 applies) changes nothing."""
    length = length.to(device, torch.float64)[:, None]
    steps = torch.arange(size, device=device, dtype=torch.float64)
    source = ((steps + 0.5) * length / size - 0.5).clamp_(min=0)
    first = source.floor()
    weight = (source - first).float()
    first = first.long()
    second = torch.minimum(first + 1, length.long() - 1)
    start = start.to(device)[:, None]
    return start + first, start + second, weight


def resized_crops(images: torch.Tensor, boxes: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
    """Each image's box resized (bilinear) to the image's own size, mirrored where `flips`;
    uint8 (B, C, H, W) in, same shape and dtype out (rounded, as torchvision rounds)."""
    batch, _, height, width = images.shape
    device = images.device
    row0, row1, row_weight = _source_index(boxes[:, 0], boxes[:, 2], height, device)
    col0, col1, col_weight = _source_index(boxes[:, 1], boxes[:, 3], width, device)
    mirrored = flips.to(device)[:, None]
    col0, col1 = (torch.where(mirrored, c.flip(1), c) for c in (col0, col1))
    col_weight = torch.where(mirrored, col_weight.flip(1), col_weight)
    pixels = images.permute(0, 2, 3, 1).float()  # (B, H, W, C)
    index = torch.arange(batch, device=device)[:, None, None]

    def at(rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        return pixels[index, rows[:, :, None], cols[:, None, :]]

    across = col_weight[:, None, :, None]
    upper = at(row0, col0) * (1 - across) + at(row0, col1) * across
    lower = at(row1, col0) * (1 - across) + at(row1, col1) * across
    down = row_weight[:, :, None, None]
    out = upper * (1 - down) + lower * down
    return out.round_().clamp_(0, 255).to(torch.uint8).permute(0, 3, 1, 2)


def random_resized_crop_flip(
    images: torch.Tensor,
    generator: torch.Generator,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> torch.Tensor:
    """Per image: a random-resized crop (torchvision's scale and ratio) back to the image's
    size, flipped left-right with probability 1/2. uint8 (B, C, H, W) in, same out."""
    batch, _, height, width = images.shape
    boxes, flips = draw_crops(batch, height, width, scale, ratio, generator)
    return resized_crops(images, boxes, flips)
