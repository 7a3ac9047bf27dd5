"""zhu2025's attack pattern 5 (this project's own rendering):
a second, smaller object deep in the background."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from robustsweep.data.patterns import NATURAL_PATTERNS
from robustsweep.data.patterns.image_ops import to_uint8


@NATURAL_PATTERNS.register("deep_background_objects")
def deep_background_objects(
    image: np.ndarray, rng: np.random.Generator, severity: float
) -> np.ndarray:
    """A smaller, sharper second object in a corner of the background, which draws the model's
    attention away from the main one. The only object at hand is the image's own, so the
    second one is that object shrunk, rotated by a multiple of 90 degrees and re-contrasted."""
    height, width, _ = image.shape
    scale = 0.25 + 0.2 * severity
    small = ndimage.zoom(image.astype(np.float32), (scale, scale, 1), order=1)
    small = np.rot90(small, k=int(rng.integers(1, 4)))
    small = (small - small.mean()) * (1 + severity) + small.mean()
    sh, sw = small.shape[:2]
    top = 0 if rng.random() < 0.5 else height - sh
    left = 0 if rng.random() < 0.5 else width - sw
    out = image.astype(np.float32)
    out[top : top + sh, left : left + sw] = small
    return to_uint8(out)
