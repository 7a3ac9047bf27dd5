"""Dataset sources: where the pixels of stage 1 come from, one module per source.

Each source registers itself in `DATASET_SOURCES` with the folder options it takes (typed
parameters of the config's `dataset` mapping besides `source`, `image_size` and `splits`) and
offers:
  class_count() -> int          known before any job runs (config validation, N sweeps)
  check(key, study) -> None     light checks of its files on disk (no torch), one line each
  load(image_size) -> RawDataset  the images as uint8 at that size
and sources that can be a file index (image_folder) also
  index() -> IndexedDataset     paths and labels, no pixels
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from robustsweep.registry import Method, Registry

if TYPE_CHECKING:
    import numpy as np

# `image_size`, `splits` and `test_split` sit beside every source's own options in `dataset`
DATASET_SOURCES = Registry(
    "dataset source", __name__, key="source", beside=("image_size", "splits", "test_split")
)


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


class DatasetSource(Method):
    """The folder options of one source and how to read it."""

    # classes known by name (WordNet ids), so pretrained ImageNet models can answer for them
    named_classes: ClassVar[bool] = False

    @property
    def storage(self) -> str:
        """pixels (images copied into the prepared HDF5) or files (a file index)."""
        return "pixels"

    def class_count(self) -> int:
        raise NotImplementedError

    def has_official_test(self) -> bool:
        """Does the source keep an official test set as the test split? Then train and pool
        divide the rest, and `splits.test` is not used."""
        return False

    def class_names(self) -> list[str] | None:
        """The study's class names in label order, where known before any job (folders)."""
        return None

    def load(self, image_size: int) -> RawDataset:
        raise NotImplementedError

    def index(self) -> IndexedDataset:
        raise NotImplementedError(f"dataset source '{self.name}' has no file index")


def source_of(dataset: dict) -> DatasetSource:
    """The source object of a validated `dataset` mapping."""
    return DATASET_SOURCES.build(dataset)


def load_source(dataset: dict) -> RawDataset:
    """The images of a `dataset` mapping at its image_size (32 by default)."""
    return source_of(dataset).load(dataset.get("image_size", 32))


def class_count(dataset: dict) -> int:
    return source_of(dataset).class_count()
