"""zhu2025's attack pattern 7, the environment (this project's own rendering):
light, fog, rain, snow and the viewing angle."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from robustsweep.data.patterns import NATURAL_PATTERNS
from robustsweep.data.patterns.image_ops import motion_kernel, smooth_field, to_uint8


@NATURAL_PATTERNS.register("environment")
def environment(image: np.ndarray, rng: np.random.Generator, severity: float) -> np.ndarray:
    """Light and weather: brightness shift, contrast loss and fog over the scene."""
    img = image.astype(np.float32)
    contrast = 1.0 - 0.6 * severity * rng.uniform(0.7, 1.0)
    brightness = rng.uniform(-1, 1) * 60 * severity
    img = (img - img.mean()) * contrast + img.mean() + brightness
    fog = smooth_field(image.shape[:2], rng)[..., None] * 255.0
    density = 0.5 * severity * rng.uniform(0.7, 1.0)
    return to_uint8((1 - density) * img + density * fog)


@NATURAL_PATTERNS.register("light")
def light(image: np.ndarray, rng: np.random.Generator, severity: float) -> np.ndarray:
    """Over- or under-exposure: contrast loss and a brightness shift, no spatial change."""
    img = image.astype(np.float32)
    contrast = 1.0 - 0.6 * severity * rng.uniform(0.7, 1.0)
    brightness = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.0) * 80 * severity
    return to_uint8((img - img.mean()) * contrast + img.mean() + brightness)


@NATURAL_PATTERNS.register("fog")
def fog(image: np.ndarray, rng: np.random.Generator, severity: float) -> np.ndarray:
    """A smooth, bright haze of uneven density over the scene."""
    haze = 160 + 95 * smooth_field(image.shape[:2], rng)[..., None]
    density = 0.25 + 0.5 * severity * rng.uniform(0.8, 1.0)
    return to_uint8((1 - density) * image.astype(np.float32) + density * haze)


def _streaks(shape: tuple[int, int], rng, count: int, length: int, angle: float) -> np.ndarray:
    """Boolean mask of `count` straight streaks of `length` pixels at `angle` degrees."""
    kernel = motion_kernel(length, angle) > 0
    seeds = np.zeros(shape, dtype=bool)
    seeds[rng.integers(0, shape[0], count), rng.integers(0, shape[1], count)] = True
    return ndimage.binary_dilation(seeds, structure=kernel)


@NATURAL_PATTERNS.register("rain")
def rain(image: np.ndarray, rng: np.random.Generator, severity: float) -> np.ndarray:
    """Light, slanted rain streaks over a slightly darkened scene."""
    height, width, _ = image.shape
    count = max(1, int(height * width * (0.004 + 0.02 * severity)))
    length = max(3, int(round(min(height, width) * (0.1 + 0.15 * severity))))
    streaks = _streaks((height, width), rng, count, length, 90 + rng.uniform(-20, 20))
    out = image.astype(np.float32) * (1 - 0.2 * severity)
    out[streaks] = 0.4 * out[streaks] + 0.6 * 220.0
    return to_uint8(out)


@NATURAL_PATTERNS.register("snow")
def snow(image: np.ndarray, rng: np.random.Generator, severity: float) -> np.ndarray:
    """White flakes of one to two pixels, more and larger with severity."""
    height, width, _ = image.shape
    flakes = rng.random((height, width)) < 0.01 + 0.06 * severity
    if severity > 0.5:
        flakes = ndimage.binary_dilation(flakes, structure=np.ones((2, 2), bool))
    out = image.astype(np.float32)
    out[flakes] = 245.0
    return to_uint8(out)


@NATURAL_PATTERNS.register("viewing_angle")
def viewing_angle(image: np.ndarray, rng: np.random.Generator, severity: float) -> np.ndarray:
    """The object seen from an unusual angle: an in-plane rotation plus a shear, about the
    image centre, edges filled by replication."""
    angle = np.deg2rad(rng.choice([-1.0, 1.0]) * 40 * severity * rng.uniform(0.7, 1.0))
    shear = rng.uniform(-0.5, 0.5) * severity
    rotate = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    matrix = rotate @ np.array([[1.0, shear], [0.0, 1.0]])
    centre = (np.array(image.shape[:2]) - 1) / 2
    offset = centre - matrix @ centre
    channels = [
        ndimage.affine_transform(
            image[..., c].astype(np.float32), matrix, offset=offset, order=1, mode="nearest"
        )
        for c in range(image.shape[-1])
    ]
    return to_uint8(np.stack(channels, axis=-1))
