"""`digits`: scikit-learn's 8x8 handwritten digits (the UCI optical recognition of handwritten
digits, Alpaydin and Kaynak 1998), the default source, shipped inside scikit-learn (nothing to
download)."""

from __future__ import annotations

import numpy as np

from robustsweep.data.sources import DATASET_SOURCES, DatasetSource, RawDataset


@DATASET_SOURCES.register("digits")
class Digits(DatasetSource):
    def class_count(self) -> int:
        return 10

    def load(self, image_size: int) -> RawDataset:
        """The digits upscaled to image_size x image_size x 3 uint8.

        Values 0..16 are mapped to 0..255 and rounded (not truncated); bilinear upscaling
        keeps strokes smooth. There is no official test set, so every split comes from the
        fractions.
        """
        import torch
        from sklearn.datasets import load_digits

        data = load_digits()
        small = torch.from_numpy(data.images.astype(np.float32) / 16.0).unsqueeze(1)
        big = torch.nn.functional.interpolate(
            small, size=(image_size, image_size), mode="bilinear", align_corners=False
        )
        gray = (big.clamp(0, 1) * 255.0).round().to(torch.uint8).squeeze(1).numpy()
        images = np.repeat(gray[..., None], 3, axis=-1)
        names = [str(name) for name in data.target_names]
        return RawDataset(images, data.target.astype(np.int64), names)
