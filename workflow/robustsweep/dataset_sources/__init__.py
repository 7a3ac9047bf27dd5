"""Dataset sources: where the pixels of stage 1 come from, one module per source.

Each source module offers three functions:
  class_count(spec) -> int     known before any job runs (config validation, N sweeps)
  check(spec) -> None          light checks of the files on disk (no torch), raised as one line
  load(spec) -> RawDataset     the images as uint8 at spec["image_size"]
and sources that can be a file index (image_folder) also
  index(spec) -> IndexedDataset  paths and labels, no pixels
`spec` is the config's `dataset` mapping with its defaults filled in.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import numpy as np

from robustsweep.dataset_sources import cifar, digits, image_folder


@dataclass(frozen=True)
class RawDataset:
    """Images as uint8 (n, H, W, 3), integer labels, the class names in label order, and
    (for sources that ship one) which rows form the official test set."""

    images: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    official_test: np.ndarray | None = None


@dataclass(frozen=True)
class IndexedDataset:
    """Image paths, integer labels, class names in label order, official test rows."""

    paths: list[str]
    labels: np.ndarray
    class_names: list[str]
    official_test: np.ndarray | None = None


SOURCES: dict[str, ModuleType] = {
    "digits": digits,
    "cifar10": cifar,
    "cifar100": cifar,
    "imagefolder": image_folder,
}


def source_module(spec: dict) -> ModuleType:
    return SOURCES[spec["source"]]


def class_count(spec: dict) -> int:
    """Number of classes the configured source has (reads folder names, never pixels)."""
    return source_module(spec).class_count(spec)


def check_source(spec: dict) -> None:
    """Raise ConfigError with one line if the source's files cannot work; cheap, no torch."""
    source_module(spec).check(spec)


def load_source(spec: dict) -> RawDataset:
    images, labels, names, official_test = source_module(spec).load(spec)
    return RawDataset(images, labels, names, official_test)


def index_source(spec: dict) -> IndexedDataset:
    paths, labels, names, official_test = source_module(spec).index(spec)
    return IndexedDataset(paths, labels, names, official_test)
