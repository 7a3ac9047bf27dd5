"""zhu2025's attack pattern 4 (this project's own rendering):
a busy background around the object."""

from __future__ import annotations

import numpy as np

from robustsweep.data.patterns import NATURAL_PATTERNS
from robustsweep.data.patterns.image_ops import central_box, to_uint8


@NATURAL_PATTERNS.register("background_interference")
def background_interference(
    image: np.ndarray, rng: np.random.Generator, severity: float
) -> np.ndarray:
    """Busy, high-contrast texture blended into the background around the central object box
    (foliage, crowds, patterned walls); the box itself is untouched."""
    height, width, _ = image.shape
    texture = rng.random((height, width, 3)) * 255.0
    stripes = np.sin(np.arange(width) * rng.uniform(0.6, 1.6) + rng.uniform(0, np.pi))
    texture = 0.5 * texture + 0.5 * 255.0 * (stripes[None, :, None] > 0)
    alpha = 0.3 + 0.6 * severity
    out = (1 - alpha) * image.astype(np.float32) + alpha * texture
    box = central_box(image.shape, 0.6)
    out[box] = image[box]
    return to_uint8(out)
