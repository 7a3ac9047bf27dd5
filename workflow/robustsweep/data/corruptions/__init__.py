"""Corruption sources: where a study's corrupted test set comes from, one module per source.

xu2024 scores every model on CIFAR-10-C (Hendrycks and Dietterich 2019): the test set under 15
benchmark corruptions (plus 4 held-out extras) at 5 severities. `cifar_c` reads the published
release (CIFAR-10-C and CIFAR-100-C), `imagecorruptions` makes the same corruptions for any
dataset with Hendrycks' corruption functions as packaged on PyPI, so the digits and the smoke
studies have a corrupted test set too. zhu2025's natural patterns (data/patterns/) are
another thing: a natural adversarial set is mined from them; a corrupted set keeps every image.

Each source registers itself in `CORRUPTIONS` with its typed options (the config's
`corruptions` mapping besides `source`) and offers
  check(key, study) -> None               light checks before any job (files on disk), one line
  blocks(test, seed, threads) -> Iterator[CorruptedBlock]
                                          the test split under each (corruption, severity),
                                          row for row
data/corruption_set.py writes those blocks once into one HDF5 file that the logits cache
scores as the test set `corrupted`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from robustsweep.registry import Method, Registry, mapping

if TYPE_CHECKING:
    import numpy as np

    from robustsweep.data.prepared_dataset import Split

CORRUPTIONS = Registry("corruption source", __name__, key="source")

# Hendrycks and Dietterich's 15 benchmark corruptions, in their order (noise, blur, weather,
# digital), then the 4 held-out ones both CIFAR-10-C and imagecorruptions ship
BENCHMARK = (
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "defocus_blur",
    "glass_blur",
    "motion_blur",
    "zoom_blur",
    "snow",
    "frost",
    "fog",
    "brightness",
    "contrast",
    "elastic_transform",
    "pixelate",
    "jpeg_compression",
)
EXTRA = ("speckle_noise", "gaussian_blur", "spatter", "saturate")
ALL_CORRUPTIONS = BENCHMARK + EXTRA
SEVERITIES = (1, 2, 3, 4, 5)


def names_parameter(default: tuple[str, ...] = BENCHMARK) -> Any:
    return mapping(
        list(default),
        schema={
            "type": "array",
            "items": {"enum": list(ALL_CORRUPTIONS)},
            "minItems": 1,
            "uniqueItems": True,
        },
        doc="corruptions to apply (default: the 15 benchmark ones; also speckle_noise, "
        "gaussian_blur, spatter, saturate)",
    )


def severities_parameter() -> Any:
    return mapping(
        list(SEVERITIES),
        schema={
            "type": "array",
            "items": {"type": "integer", "minimum": 1, "maximum": 5},
            "minItems": 1,
            "uniqueItems": True,
        },
        doc="severities 1-5 to apply",
    )


@dataclass(frozen=True)
class CorruptedBlock:
    """The test split under one corruption at one severity, uint8 (n, H, W, 3), row for row."""

    corruption: str
    severity: int
    images: np.ndarray


class CorruptionSource(Method):
    """Options of one corruption source; `names` and `severities` are declared by each."""

    names: list[str]
    severities: list[int]

    def blocks(self, test: Split, seed: int, threads: int) -> Iterator[CorruptedBlock]:
        raise NotImplementedError


def corruption_source(spec: dict) -> CorruptionSource:
    """The source object of a validated `corruptions` mapping."""
    return CORRUPTIONS.build(spec)
