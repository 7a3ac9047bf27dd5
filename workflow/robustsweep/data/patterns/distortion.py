"""zhu2025's attack pattern 1, image distortion (this project's own rendering):
defocus and motion blur."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from robustsweep.data.patterns import NATURAL_PATTERNS
from robustsweep.data.patterns.image_ops import motion_kernel, to_uint8


@NATURAL_PATTERNS.register("defocus_blur")
def defocus_blur(image: np.ndarray, rng: np.random.Generator, severity: float) -> np.ndarray:
    """Gaussian defocus whose radius grows with severity."""
    sigma = 0.6 + 2.4 * severity * rng.uniform(0.8, 1.2)
    return to_uint8(ndimage.gaussian_filter(image.astype(np.float32), sigma=(sigma, sigma, 0)))


@NATURAL_PATTERNS.register("motion_blur")
def motion_blur(image: np.ndarray, rng: np.random.Generator, severity: float) -> np.ndarray:
    """Linear motion blur at a random angle."""
    kernel = motion_kernel(3 + int(round(9 * severity)), rng.uniform(0, 180))
    channels = [
        ndimage.convolve(image[..., c].astype(np.float32), kernel, mode="nearest")
        for c in range(image.shape[-1])
    ]
    return to_uint8(np.stack(channels, axis=-1))
