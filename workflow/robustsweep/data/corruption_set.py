"""A corrupted copy of the test split, written once and scored by every model's logits cache
as the test set `corrupted` (xu2024's CIFAR-10-C evaluation; data/corruptions/ has the
sources).

Layout of the file:
  /images      (n, H, W, 3) uint8: the test split under each (corruption, severity) in turn
  /label       (n,) int64 class ids
  /index       (n,) int64 row of the clean image in data/dataset.h5 (aligns with `clean`)
  /corruption  (n,) int16, position in attrs `corruptions`
  /severity    (n,) int8, 1-5
  attrs: source, params (JSON), corruptions, seed
  root attrs: the seal (file_identity.py: identity naming the prepared dataset, content_sha256)
Written under a temporary name and renamed when complete (atomic_output.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from robustsweep.atomic_output import atomic_path
from robustsweep.data.corruptions import corruption_source
from robustsweep.data.prepared_dataset import load_split
from robustsweep.file_identity import identity_for, recorded_digest, seal_h5
from robustsweep.input_errors import InputError
from robustsweep.stage_settings import Compute, CorruptionSettings

CHUNK_ROWS = 256


def corrupt_stage(
    *, settings: CorruptionSettings, compute: Compute, dataset: Path, output: Path
) -> None:
    write_corruption_set(output, dataset, settings.spec, settings.seed, compute.threads)


def write_corruption_set(
    output: Path, dataset: Path, spec: dict, seed: int, threads: int = 1
) -> None:
    """Every (corruption, severity) block of the test split into one HDF5 file."""
    from tqdm import tqdm

    source = corruption_source(spec)
    test = load_split(dataset, "test")
    n, shape = len(test.labels), test.images.shape[1:]
    total = n * len(source.names) * len(source.severities)
    blocks = source.blocks(test, seed, threads)
    with atomic_path(output) as tmp, h5py.File(tmp, "w") as h5:
        chunk = (min(CHUNK_ROWS, max(total, 1)), *shape)
        images = h5.create_dataset("images", (total, *shape), np.uint8, chunks=chunk)
        codes, severities = np.zeros(total, np.int16), np.zeros(total, np.int8)
        for k, block in enumerate(tqdm(blocks, total=total // max(n, 1), desc="corrupting")):
            if block.images.shape != test.images.shape:
                raise InputError(
                    f"corruption {block.corruption} gave images of shape {block.images.shape}, "
                    f"not the test split's {test.images.shape}"
                )
            rows = slice(k * n, (k + 1) * n)
            images[rows] = block.images
            codes[rows] = source.names.index(block.corruption)
            severities[rows] = block.severity
        h5.create_dataset("label", data=np.tile(test.labels, total // max(n, 1)))
        h5.create_dataset("index", data=np.tile(test.indices, total // max(n, 1)))
        h5.create_dataset("corruption", data=codes)
        h5.create_dataset("severity", data=severities)
        h5.attrs.update(
            source=spec["source"],
            params=json.dumps(source.parameters(), sort_keys=True),
            corruptions=list(source.names),
            seed=seed,
        )
        identity = identity_for(
            "corruptions",
            output,
            image_size=int(shape[0]),
            dataset_sha256=recorded_digest(dataset),
        )
        seal_h5(h5, identity)


@dataclass(frozen=True)
class CorruptionSet:
    """An open corruption file's arrays: `images` stays an h5py dataset (read in batches)."""

    images: h5py.Dataset
    labels: np.ndarray
    index: np.ndarray
    corruption: np.ndarray  # name of each row's corruption
    severity: np.ndarray


def open_corruption_set(h5: h5py.File) -> CorruptionSet:
    names = np.asarray([str(name) for name in h5.attrs["corruptions"]], dtype=object)
    return CorruptionSet(
        h5["images"],
        h5["label"][()],
        h5["index"][()],
        names[h5["corruption"][()]],
        h5["severity"][()].astype(np.int64),
    )
