"""zhu2025's attack pattern 2 (this project's own rendering):
a small object on a large, cluttered background."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from robustsweep.data.patterns import NATURAL_PATTERNS
from robustsweep.data.patterns.image_ops import smooth_field, to_uint8


@NATURAL_PATTERNS.register("low_object_ratio")
def low_object_ratio(image: np.ndarray, rng: np.random.Generator, severity: float) -> np.ndarray:
    """Shrink the object and place it at a random spot on a cluttered, coloured background."""
    height, width, _ = image.shape
    scale = 1.0 - 0.6 * severity
    small = ndimage.zoom(image.astype(np.float32), (scale, scale, 1), order=1)
    sh, sw = small.shape[:2]
    clutter = np.stack([smooth_field((height, width), rng) for _ in range(3)], axis=-1)
    canvas = clutter * (80 + 120 * severity)
    top, left = rng.integers(0, height - sh + 1), rng.integers(0, width - sw + 1)
    window = canvas[top : top + sh, left : left + sw]
    canvas[top : top + sh, left : left + sw] = np.maximum(window, small)
    return to_uint8(canvas)
