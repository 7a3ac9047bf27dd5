"""Stage 1: turn a dataset source into one HDF5 file with uint8 images and disjoint splits.

Layout of the file (every later stage reads only this):
  /images        (n, H, W, 3) uint8, chunked per image
  /labels        (n,) int64, class ids 0..K-1
  /class_names   (K,) UTF-8 strings
  /splits/train, /splits/test, /splits/pool   int64 indices into /images, disjoint
  attrs: source, image_size, seed, split fractions
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from robustsweep.atomic_output import atomic_path

SPLITS = ("train", "test", "pool")


@dataclass(frozen=True)
class RawDataset:
    """Images as uint8 (n, H, W, 3) with integer labels and the names of the classes."""

    images: np.ndarray
    labels: np.ndarray
    class_names: list[str]


@dataclass(frozen=True)
class Split:
    """One split in memory: images (n, H, W, 3) uint8, labels, and their row in /images."""

    images: np.ndarray
    labels: np.ndarray
    indices: np.ndarray


def load_digits_source(image_size: int) -> RawDataset:
    """scikit-learn's 8x8 handwritten digits, upscaled to image_size x image_size x 3.

    The digits ship inside scikit-learn, so the default study needs no download. Values 0..16
    are mapped to 0..255 and rounded (not truncated); bilinear upscaling keeps strokes smooth.
    """
    import torch
    from sklearn.datasets import load_digits

    digits = load_digits()
    small = torch.from_numpy(digits.images.astype(np.float32) / 16.0).unsqueeze(1)
    big = torch.nn.functional.interpolate(
        small, size=(image_size, image_size), mode="bilinear", align_corners=False
    )
    gray = (big.clamp(0, 1) * 255.0).round().to(torch.uint8).squeeze(1).numpy()
    images = np.repeat(gray[..., None], 3, axis=-1)
    names = [str(name) for name in digits.target_names]
    return RawDataset(images=images, labels=digits.target.astype(np.int64), class_names=names)


SOURCES: dict[str, Callable[[int], RawDataset]] = {"digits": load_digits_source}
SOURCE_CLASS_COUNTS: dict[str, int] = {"digits": 10}


def class_count(source: str) -> int:
    """Number of classes a source has, known before any job runs (for config validation)."""
    return SOURCE_CLASS_COUNTS[source]


def stratified_splits(
    labels: np.ndarray, fractions: dict[str, float], seed: int
) -> dict[str, np.ndarray]:
    """Split indices into disjoint train/test/pool parts with the same class balance each.

    Each class is shuffled with a seeded generator and cut by the fractions, so the same
    labels, fractions and seed always give the same split.
    """
    rng = np.random.default_rng(seed)
    total = sum(fractions[name] for name in SPLITS)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in SPLITS}
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        cuts = np.cumsum([fractions[name] / total for name in SPLITS])[:-1]
        for name, chunk in zip(
            SPLITS, np.split(members, (cuts * len(members)).round().astype(int)), strict=True
        ):
            parts[name].append(chunk)
    return {name: np.sort(np.concatenate(chunks)) for name, chunks in parts.items()}


def prepare_dataset(
    output: Path, source: str, image_size: int, fractions: dict[str, float], seed: int
) -> None:
    """Materialise a source into the HDF5 layout described in the module docstring."""
    raw = SOURCES[source](image_size)
    splits = stratified_splits(raw.labels, fractions, seed)
    with atomic_path(output) as tmp, h5py.File(tmp, "w") as h5:
        h5.create_dataset("images", data=raw.images, chunks=(1, *raw.images.shape[1:]))
        h5.create_dataset("labels", data=raw.labels)
        h5.create_dataset(
            "class_names", data=np.array(raw.class_names, dtype=object), dtype=h5py.string_dtype()
        )
        for name, indices in splits.items():
            h5.create_dataset(f"splits/{name}", data=indices)
        h5.attrs.update(
            source=source,
            image_size=image_size,
            seed=seed,
            fractions=[fractions[name] for name in SPLITS],
        )


def load_split(path: Path, split: str) -> Split:
    """Read one split into memory (the digits and CIFAR fit easily)."""
    with h5py.File(path, "r") as h5:
        indices = h5[f"splits/{split}"][()]
        return Split(
            images=h5["images"][()][indices], labels=h5["labels"][()][indices], indices=indices
        )


def load_class_names(path: Path) -> list[str]:
    """Class names in label order."""
    with h5py.File(path, "r") as h5:
        return [
            name.decode() if isinstance(name, bytes) else str(name)
            for name in h5["class_names"][()]
        ]
