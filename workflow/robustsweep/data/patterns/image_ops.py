"""Image operations several natural patterns share (not patterns themselves)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def smooth_field(shape: tuple[int, int], rng: np.random.Generator, cells: int = 4) -> np.ndarray:
    """Low-frequency random field in [0, 1] (clutter, fog density)."""
    coarse = rng.random((cells, cells))
    return np.clip(ndimage.zoom(coarse, (shape[0] / cells, shape[1] / cells), order=1), 0, 1)


def motion_kernel(length: int, angle_deg: float) -> np.ndarray:
    """A normalised line kernel of `length` pixels at `angle_deg` (camera shake)."""
    size = length if length % 2 else length + 1
    kernel = np.zeros((size, size), dtype=np.float32)
    centre = size // 2
    theta = np.deg2rad(angle_deg)
    for t in np.linspace(-(length - 1) / 2, (length - 1) / 2, 4 * length):
        kernel[int(round(centre + t * np.sin(theta))), int(round(centre + t * np.cos(theta)))] = 1
    return kernel / kernel.sum()


def central_box(shape: tuple[int, ...], keep: float) -> tuple[slice, slice]:
    """The centred box covering `keep` of each side: where ImageNet-style photos hold their
    object, which background patterns leave alone."""
    height, width = shape[:2]
    dy, dx = int(round(height * (1 - keep) / 2)), int(round(width * (1 - keep) / 2))
    return slice(dy, height - dy), slice(dx, width - dx)
