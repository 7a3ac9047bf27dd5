"""Stage 1: turn a dataset source (data/sources/) into one HDF5 file with disjoint splits.

Layout of the file (every later stage reads only this):
  /images        (n, H, W, 3) uint8, chunked per image; or, for a file index
                 (`dataset.storage: files`), /paths (n,) UTF-8 image paths instead, with
                 /file_sizes and /file_mtimes_ns (n,) int64: each image's size and
                 modification time, checked whenever a split is read (image_stats.py)
  /labels        (n,) int64, class ids 0..K-1
  /class_names   (K,) UTF-8 strings
  /splits/train, /splits/test, /splits/pool   int64 indices into /images, disjoint
  attrs: source, storage (pixels|files), image_size, official_test (an official test set
         kept), seed, fractions, and the seal (file_identity.py: identity, content_sha256)
Readers get pixels either way: a file index is decoded with image_files.py's preprocessing.

Every image of a folder source is decoded once here (image_files.check_images), so a
truncated or undecodable file stops this job, named, before anything trains on the tree;
and every class must get at least one train and one test image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from robustsweep.atomic_output import atomic_path
from robustsweep.data.image_stats import MTIMES, SIZES, check_unchanged, file_stats
from robustsweep.data.sources import source_of
from robustsweep.disk_space import require_free_space
from robustsweep.file_identity import identity_for, seal_h5
from robustsweep.input_errors import ConfigError, FileCheckError
from robustsweep.stage_settings import Compute, PrepareSettings

SPLITS = ("train", "test", "pool")


@dataclass(frozen=True)
class Split:
    """One split in memory: images (n, H, W, 3) uint8, labels, and their row in /images."""

    images: np.ndarray
    labels: np.ndarray
    indices: np.ndarray


def stratified_splits(
    labels: np.ndarray,
    fractions: dict[str, float],
    seed: int,
    official_test: np.ndarray | None = None,
    held_out: bool = False,
) -> dict[str, np.ndarray]:
    """Split indices into disjoint train/test/pool parts with the same class balance each.

    Each class is shuffled with a seeded generator and cut by the fractions, so the same
    labels, fractions and seed always give the same split. A source with an official test set
    (CIFAR) keeps it as the test split, and train:pool divide the official training set
    (tan2022's 45k/5k is train 0.9, pool 0.1), unless `held_out` (dataset.test_split:
    held_out): then train:test divide the official training set (tan2022's own 45k/5k test
    split) and the official test set is the pool.
    """
    rng = np.random.default_rng(seed)
    rest = "test" if held_out else "pool"
    names = SPLITS if official_test is None else ("train", rest)
    candidates = np.ones(len(labels), bool) if official_test is None else ~official_test
    total = sum(fractions[name] for name in names)
    cuts = np.cumsum([fractions[name] / total for name in names])[:-1]
    parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero((labels == cls) & candidates))
        pieces = np.split(members, (cuts * len(members)).round().astype(int))
        for name, chunk in zip(names, pieces, strict=True):
            parts[name].append(chunk)
    splits = {name: np.sort(np.concatenate(chunks)) for name, chunks in parts.items()}
    if official_test is not None:
        splits["pool" if held_out else "test"] = np.flatnonzero(official_test)
    return {name: splits[name] for name in SPLITS}


def check_split_sizes(
    splits: dict[str, np.ndarray], labels: np.ndarray, class_names: list[str], fractions: dict
) -> None:
    """Every class has a train and a test image: a class without one would be trained on
    nothing, or scored on nothing, and its metrics would look complete."""
    for split in ("train", "test"):
        counts = np.bincount(labels[splits[split]], minlength=len(class_names))
        empty = np.flatnonzero(counts == 0)
        if len(empty):
            first = int(empty[0])
            more = f" (and {len(empty) - 1} more)" if len(empty) > 1 else ""
            raise ConfigError(
                f"class '{class_names[first]}'{more} gets no {split} images: its "
                f"{int(np.sum(labels == first))} image(s) split by 'dataset.splits' "
                f"{fractions} leave none for {split}; raise 'dataset.splits.{split}' or add "
                "images to the class"
            )


def prepare_stage(
    *, settings: PrepareSettings, output: Path, compute: Compute | None = None
) -> None:
    threads = compute.threads if compute is not None else 1
    prepare_dataset(output, settings.dataset, settings.seed, threads)


def prepare_dataset(output: Path, spec: dict, seed: int, threads: int = 1) -> None:
    """Materialise the config's `dataset` mapping (validated: the source's options, image
    size and split fractions) into the layout of the module docstring."""
    source = source_of(spec)
    storage = source.storage
    indexed = checked_file_index(source, spec["image_size"], threads)
    raw = indexed if storage == "files" else source.load(spec["image_size"])
    fractions = spec["splits"]
    held_out = spec.get("test_split", "official") == "held_out"
    splits = stratified_splits(raw.labels, fractions, seed, raw.official_test, held_out)
    check_split_sizes(splits, raw.labels, raw.class_names, fractions)
    if storage != "files":
        require_free_space(output, raw.images.nbytes, f"{len(raw.images)} images")
    with atomic_path(output) as tmp, h5py.File(tmp, "w") as h5:
        if storage == "files":
            h5.create_dataset("paths", data=raw.paths, dtype=h5py.string_dtype())
            sizes, mtimes = file_stats(raw.paths)
            h5.create_dataset(SIZES, data=sizes)
            h5.create_dataset(MTIMES, data=mtimes)
        else:
            h5.create_dataset("images", data=raw.images, chunks=(1, *raw.images.shape[1:]))
        h5.create_dataset("labels", data=raw.labels)
        h5.create_dataset(
            "class_names", data=np.array(raw.class_names, dtype=object), dtype=h5py.string_dtype()
        )
        for name, indices in splits.items():
            h5.create_dataset(f"splits/{name}", data=indices)
        h5.attrs.update(
            source=spec["source"],
            storage=storage,
            image_size=spec["image_size"],
            official_test=raw.official_test is not None,
            seed=seed,
            fractions=[fractions[name] for name in SPLITS],
        )
        seal_h5(h5, identity_for("dataset", output, image_size=spec["image_size"]))


def checked_file_index(source, image_size: int, threads: int):
    """A folder source's file index, every image decoded once to check it (None for sources
    without files: digits, CIFAR)."""
    from robustsweep.data.image_files import check_images

    try:
        indexed = source.index()
    except NotImplementedError:
        return None
    check_images(indexed.paths, image_size, threads)
    return indexed


@dataclass(frozen=True)
class SplitFiles:
    """One split of a file index: image paths, labels, rows in the prepared dataset."""

    paths: list[str]
    labels: np.ndarray
    indices: np.ndarray
    image_size: int


def is_file_index(path: Path) -> bool:
    with h5py.File(path, "r") as h5:
        return "paths" in h5


def load_split_files(path: Path, split: str) -> SplitFiles:
    """The paths and labels of one split of a file index (no pixels read), once every image
    of the split is checked to be the one indexed (size and modification time)."""
    with h5py.File(path, "r") as h5:
        indices = h5[f"splits/{split}"][()]
        paths = h5["paths"].asstr()[()][indices].tolist()
        if SIZES not in h5:
            raise FileCheckError(
                f"{path}: file index carries no image sizes and times (written by an older "
                "robustsweep); delete it and rerun the workflow to index the tree again"
            )
        check_unchanged(paths, h5[SIZES][()][indices], h5[MTIMES][()][indices], path)
        return SplitFiles(paths, h5["labels"][()][indices], indices, int(h5.attrs["image_size"]))


def load_split(path: Path, split: str) -> Split:
    """Read one split's pixels into memory: the stored images, or a file index's images
    decoded with the evaluation preprocessing (test and mining splits, ImageNet-A-sized)."""
    if is_file_index(path):
        from robustsweep.data.image_files import decode_images

        files = load_split_files(path, split)
        images = decode_images(files.paths, files.image_size)
        return Split(images=images, labels=files.labels, indices=files.indices)
    with h5py.File(path, "r") as h5:
        indices = h5[f"splits/{split}"][()]
        return Split(
            images=h5["images"][()][indices], labels=h5["labels"][()][indices], indices=indices
        )


def dataset_image_size(path: Path) -> int:
    with h5py.File(path, "r") as h5:
        return int(h5.attrs["image_size"])


def load_class_names(path: Path) -> list[str]:
    """Class names in label order."""
    with h5py.File(path, "r") as h5:
        return [
            name.decode() if isinstance(name, bytes) else str(name)
            for name in h5["class_names"][()]
        ]
