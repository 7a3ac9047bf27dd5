"""How a store keeps its images: `attacks.store` (format, JPEG quality, repair).

`exact` keeps the uint8 pixels the attack produced (rounded within the budget, quantisation.py).
`jpeg` writes each rounded image as a JPEG file would hold it and keeps the decoded pixels, as
tan2022's authors stored theirs (aisafe_adv_samples.py saves every adversarial image with
PIL's `Image.save(... .jpg)`: quality 75 and 4:2:0 chroma subsampling, PIL's defaults), so an
image whose perturbation the compression washes out is no longer adversarial, as in their
store. `repair` decides whether images that rounding made harmless are repaired before they
are stored (quantisation.py); the authors' storage has no repair.

The encoding is Pillow's (the library the authors used); only the loop over images is here.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

FORMATS = ("exact", "jpeg")


@dataclass(frozen=True)
class ImageStorage:
    """A store's `attacks.store` section."""

    format: str = "exact"
    jpeg_quality: int = 75
    repair: bool = True

    @classmethod
    def from_section(cls, section: dict | None) -> ImageStorage:
        section = section or {}
        storage = cls(
            format=section.get("format", "exact"),
            jpeg_quality=int(section.get("jpeg_quality", 75)),
            repair=bool(section.get("repair", True)),
        )
        if storage.format not in FORMATS:
            raise ValueError(f"unknown store format {storage.format!r}; one of {FORMATS}")
        return storage

    def describe(self) -> str:
        """How the images are kept, in a few words (the success report's `store_format`)."""
        kept = "uint8" if self.format == "exact" else f"JPEG q{self.jpeg_quality}"
        return kept if self.repair else f"{kept}, no repair"

    def stored(self, images: np.ndarray) -> np.ndarray:
        """The pixels a reader of the store gets back for uint8 (n, H, W, 3) images."""
        if self.format == "exact":
            return images
        return jpeg_round_trip(images, self.jpeg_quality)


def jpeg_round_trip(images: np.ndarray, quality: int) -> np.ndarray:
    """Each uint8 (H, W, 3) image encoded as JPEG at `quality` (Pillow's defaults otherwise,
    as `Image.save('x.jpg')`) and decoded again."""
    from PIL import Image

    out = np.empty_like(images)
    for i, image in enumerate(images):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
        buffer.seek(0)
        out[i] = np.asarray(Image.open(buffer).convert("RGB"))
    return out
