"""Natural patterns: the corruptions that mine natural adversarial examples (zhu2025, Sec. 2.1).

Each pattern is a seeded function (uint8 HxWx3 image, generator, severity in [0, 1]) -> image,
modelled on the seven attack patterns zhu2025 reads off Grad-CAM maps, one module per pattern
family, each function registered in `NATURAL_PATTERNS`: (1) image distortion (defocus_blur,
motion_blur), (2) low_object_ratio, (3) grid_occlusion, (4) background_interference, (5)
deep_background_objects, (6) edge_interference and (7) the environment: light, fog, rain,
snow and viewing_angle, each usable alone (`environment` is light + fog together, kept for
existing configs). They are written here by hand because no maintained library ships these
as numpy transforms on tiny images (imgaug is unmaintained, albumentations targets photographs
and adds a heavy dependency); scipy does the filtering. The helpers several patterns share are
in patterns/image_ops.py.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np

from robustsweep.registry import Registry

NATURAL_PATTERNS = Registry("natural pattern", __name__)
Pattern = Callable[[np.ndarray, np.random.Generator, float], np.ndarray]


def apply_pattern(
    name: str, image: np.ndarray, severity: float, seed: int, index: int, variant: int = 0
) -> np.ndarray:
    """Apply one pattern with a generator keyed by (seed, pattern, image, variant).

    Keying by the image rather than drawing from one shared stream makes each output
    independent of processing order and of which other patterns are enabled.
    """
    key = zlib.crc32(name.encode())
    rng = np.random.default_rng([seed, key, index, variant])
    return NATURAL_PATTERNS.get(name).target(image, rng, severity)
