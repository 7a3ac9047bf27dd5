"""zhu2025's attack pattern 3 (this project's own rendering):
the object behind a grid (fences, window bars)."""

from __future__ import annotations

import numpy as np

from robustsweep.data.patterns import NATURAL_PATTERNS


def grid_mask(shape: tuple[int, int], coverage: float, period: int, offset: int) -> np.ndarray:
    """Boolean mask of horizontal and vertical bars covering about `coverage` of the image.

    Bars of thickness t every `period` pixels in both directions cover 1 - (1 - t/p)^2.
    """
    thickness = max(1, int(round(period * (1 - np.sqrt(1 - coverage)))))
    rows = ((np.arange(shape[0]) + offset) % period) < thickness
    cols = ((np.arange(shape[1]) + offset) % period) < thickness
    return rows[:, None] | cols[None, :]


@NATURAL_PATTERNS.register("grid_occlusion")
def grid_occlusion(image: np.ndarray, rng: np.random.Generator, severity: float) -> np.ndarray:
    """Occlude with a grid (fences, window bars) whose covered fraction grows with severity."""
    coverage = 0.15 + 0.35 * severity
    period = int(rng.integers(6, 11))
    mask = grid_mask(image.shape[:2], coverage, period, int(rng.integers(0, period)))
    out = image.copy()
    out[mask] = rng.integers(0, 256, size=3, dtype=np.uint8)
    return out
