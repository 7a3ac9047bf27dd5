"""zhu2025's attack pattern 6 (this project's own rendering):
strong straight edges through the object."""

from __future__ import annotations

import numpy as np

from robustsweep.data.patterns import NATURAL_PATTERNS
from robustsweep.data.patterns.image_ops import to_uint8


@NATURAL_PATTERNS.register("edge_interference")
def edge_interference(image: np.ndarray, rng: np.random.Generator, severity: float) -> np.ndarray:
    """Strong straight edges through the object's bounding box (rails, frames, branches)."""
    height, width, _ = image.shape
    ys, xs = np.nonzero(image.max(axis=-1) > 64)
    if len(ys) == 0:
        ys, xs = np.array([height // 2]), np.array([width // 2])
    yy, xx = np.mgrid[0:height, 0:width]
    out = image.astype(np.float32)
    for _ in range(1 + int(round(3 * severity))):
        y0, x0 = rng.uniform(ys.min(), ys.max() + 1), rng.uniform(xs.min(), xs.max() + 1)
        theta = rng.uniform(0, np.pi)
        distance = np.abs((xx - x0) * np.sin(theta) - (yy - y0) * np.cos(theta))
        out[distance < 0.75 + 1.25 * severity] = 255.0 * rng.integers(0, 2)
    return to_uint8(out)
