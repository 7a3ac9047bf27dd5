"""Natural-pattern corruptions used to mine natural adversarial examples (seed 000, Sec. 2.1).

Each pattern is a seeded function (uint8 HxWx3 image, generator, severity in [0, 1]) -> image,
modelled on the attack patterns the paper reads off Grad-CAM maps: image distortion (defocus
and motion blur), low object-to-background ratio, grid occlusion, environment (light, fog) and
significant edge interference. They are written here by hand because no maintained library
ships these as numpy transforms on tiny images (imgaug is unmaintained, albumentations
targets photographs and adds a heavy dependency); scipy does the filtering.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np
from scipy import ndimage

Pattern = Callable[[np.ndarray, np.random.Generator, float], np.ndarray]


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def _smooth_field(shape: tuple[int, int], rng: np.random.Generator, cells: int = 4) -> np.ndarray:
    """Low-frequency random field in [0, 1] (clutter, fog density)."""
    coarse = rng.random((cells, cells))
    return np.clip(ndimage.zoom(coarse, (shape[0] / cells, shape[1] / cells), order=1), 0, 1)


def defocus_blur(image: np.ndarray, rng: np.random.Generator, severity: float) -> np.ndarray:
    """Gaussian defocus whose radius grows with severity."""
    sigma = 0.6 + 2.4 * severity * rng.uniform(0.8, 1.2)
    return _to_uint8(ndimage.gaussian_filter(image.astype(np.float32), sigma=(sigma, sigma, 0)))


def motion_kernel(length: int, angle_deg: float) -> np.ndarray:
    """A normalised line kernel of `length` pixels at `angle_deg` (camera shake)."""
    size = length if length % 2 else length + 1
    kernel = np.zeros((size, size), dtype=np.float32)
    centre = size // 2
    theta = np.deg2rad(angle_deg)
    for t in np.linspace(-(length - 1) / 2, (length - 1) / 2, 4 * length):
        kernel[int(round(centre + t * np.sin(theta))), int(round(centre + t * np.cos(theta)))] = 1
    return kernel / kernel.sum()


def motion_blur(image: np.ndarray, rng: np.random.Generator, severity: float) -> np.ndarray:
    """Linear motion blur at a random angle."""
    kernel = motion_kernel(3 + int(round(9 * severity)), rng.uniform(0, 180))
    channels = [
        ndimage.convolve(image[..., c].astype(np.float32), kernel, mode="nearest")
        for c in range(image.shape[-1])
    ]
    return _to_uint8(np.stack(channels, axis=-1))


def low_object_ratio(image: np.ndarray, rng: np.random.Generator, severity: float) -> np.ndarray:
    """Shrink the object and place it at a random spot on a cluttered, coloured background."""
    height, width, _ = image.shape
    scale = 1.0 - 0.6 * severity
    small = ndimage.zoom(image.astype(np.float32), (scale, scale, 1), order=1)
    sh, sw = small.shape[:2]
    clutter = np.stack([_smooth_field((height, width), rng) for _ in range(3)], axis=-1)
    canvas = clutter * (80 + 120 * severity)
    top, left = rng.integers(0, height - sh + 1), rng.integers(0, width - sw + 1)
    window = canvas[top : top + sh, left : left + sw]
    canvas[top : top + sh, left : left + sw] = np.maximum(window, small)
    return _to_uint8(canvas)


def grid_mask(shape: tuple[int, int], coverage: float, period: int, offset: int) -> np.ndarray:
    """Boolean mask of horizontal and vertical bars covering about `coverage` of the image.

    Bars of thickness t every `period` pixels in both directions cover 1 - (1 - t/p)^2.
    """
    thickness = max(1, int(round(period * (1 - np.sqrt(1 - coverage)))))
    rows = ((np.arange(shape[0]) + offset) % period) < thickness
    cols = ((np.arange(shape[1]) + offset) % period) < thickness
    return rows[:, None] | cols[None, :]


def grid_occlusion(image: np.ndarray, rng: np.random.Generator, severity: float) -> np.ndarray:
    """Occlude with a grid (fences, window bars) whose covered fraction grows with severity."""
    coverage = 0.15 + 0.35 * severity
    period = int(rng.integers(6, 11))
    mask = grid_mask(image.shape[:2], coverage, period, int(rng.integers(0, period)))
    out = image.copy()
    out[mask] = rng.integers(0, 256, size=3, dtype=np.uint8)
    return out


def environment(image: np.ndarray, rng: np.random.Generator, severity: float) -> np.ndarray:
    """Light and weather: brightness shift, contrast loss and fog over the scene."""
    img = image.astype(np.float32)
    contrast = 1.0 - 0.6 * severity * rng.uniform(0.7, 1.0)
    brightness = rng.uniform(-1, 1) * 60 * severity
    img = (img - img.mean()) * contrast + img.mean() + brightness
    fog = _smooth_field(image.shape[:2], rng)[..., None] * 255.0
    density = 0.5 * severity * rng.uniform(0.7, 1.0)
    return _to_uint8((1 - density) * img + density * fog)


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
    return _to_uint8(out)


PATTERNS: dict[str, Pattern] = {
    "defocus_blur": defocus_blur,
    "motion_blur": motion_blur,
    "low_object_ratio": low_object_ratio,
    "grid_occlusion": grid_occlusion,
    "environment": environment,
    "edge_interference": edge_interference,
}


def apply_pattern(
    name: str, image: np.ndarray, severity: float, seed: int, index: int, variant: int = 0
) -> np.ndarray:
    """Apply one pattern with a generator keyed by (seed, pattern, image, variant).

    Keying by the image rather than drawing from one shared stream makes each output
    independent of processing order and of which other patterns are enabled.
    """
    key = zlib.crc32(name.encode())
    rng = np.random.default_rng([seed, key, index, variant])
    return PATTERNS[name](image, rng, severity)
