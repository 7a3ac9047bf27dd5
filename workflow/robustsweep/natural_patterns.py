"""Natural-pattern corruptions used to mine natural adversarial examples (seed 000, Sec. 2.1).

Each pattern is a seeded function (uint8 HxWx3 image, generator, severity in [0, 1]) -> image,
modelled on the seven attack patterns the paper reads off Grad-CAM maps: (1) image distortion
(defocus_blur, motion_blur), (2) low_object_ratio, (3) grid_occlusion, (4)
background_interference, (5) deep_background_objects, (6) edge_interference and (7) the
environment: light, fog, rain, snow and viewing_angle, each usable alone (`environment` is
light + fog together, kept for existing configs). They are written here by hand because no
maintained library ships these as numpy transforms on tiny images (imgaug is unmaintained,
albumentations targets photographs and adds a heavy dependency); scipy does the filtering.
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


def central_box(shape: tuple[int, ...], keep: float) -> tuple[slice, slice]:
    """The centred box covering `keep` of each side: where ImageNet-style photos hold their
    object, which background patterns leave alone."""
    height, width = shape[:2]
    dy, dx = int(round(height * (1 - keep) / 2)), int(round(width * (1 - keep) / 2))
    return slice(dy, height - dy), slice(dx, width - dx)


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
    return _to_uint8(out)


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
    return _to_uint8(out)


def light(image: np.ndarray, rng: np.random.Generator, severity: float) -> np.ndarray:
    """Over- or under-exposure: contrast loss and a brightness shift, no spatial change."""
    img = image.astype(np.float32)
    contrast = 1.0 - 0.6 * severity * rng.uniform(0.7, 1.0)
    brightness = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.0) * 80 * severity
    return _to_uint8((img - img.mean()) * contrast + img.mean() + brightness)


def fog(image: np.ndarray, rng: np.random.Generator, severity: float) -> np.ndarray:
    """A smooth, bright haze of uneven density over the scene."""
    haze = 160 + 95 * _smooth_field(image.shape[:2], rng)[..., None]
    density = 0.25 + 0.5 * severity * rng.uniform(0.8, 1.0)
    return _to_uint8((1 - density) * image.astype(np.float32) + density * haze)


def _streaks(shape: tuple[int, int], rng, count: int, length: int, angle: float) -> np.ndarray:
    """Boolean mask of `count` straight streaks of `length` pixels at `angle` degrees."""
    kernel = motion_kernel(length, angle) > 0
    seeds = np.zeros(shape, dtype=bool)
    seeds[rng.integers(0, shape[0], count), rng.integers(0, shape[1], count)] = True
    return ndimage.binary_dilation(seeds, structure=kernel)


def rain(image: np.ndarray, rng: np.random.Generator, severity: float) -> np.ndarray:
    """Light, slanted rain streaks over a slightly darkened scene."""
    height, width, _ = image.shape
    count = max(1, int(height * width * (0.004 + 0.02 * severity)))
    length = max(3, int(round(min(height, width) * (0.1 + 0.15 * severity))))
    streaks = _streaks((height, width), rng, count, length, 90 + rng.uniform(-20, 20))
    out = image.astype(np.float32) * (1 - 0.2 * severity)
    out[streaks] = 0.4 * out[streaks] + 0.6 * 220.0
    return _to_uint8(out)


def snow(image: np.ndarray, rng: np.random.Generator, severity: float) -> np.ndarray:
    """White flakes of one to two pixels, more and larger with severity."""
    height, width, _ = image.shape
    flakes = rng.random((height, width)) < 0.01 + 0.06 * severity
    if severity > 0.5:
        flakes = ndimage.binary_dilation(flakes, structure=np.ones((2, 2), bool))
    out = image.astype(np.float32)
    out[flakes] = 245.0
    return _to_uint8(out)


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
    return _to_uint8(np.stack(channels, axis=-1))


PATTERNS: dict[str, Pattern] = {
    "defocus_blur": defocus_blur,
    "motion_blur": motion_blur,
    "low_object_ratio": low_object_ratio,
    "grid_occlusion": grid_occlusion,
    "background_interference": background_interference,
    "deep_background_objects": deep_background_objects,
    "edge_interference": edge_interference,
    "environment": environment,
    "light": light,
    "fog": fog,
    "rain": rain,
    "snow": snow,
    "viewing_angle": viewing_angle,
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
