"""The adversarial store's file format: one HDF5 file per (split, attack).

Layout, one group named after the attack:
  images       (n, H, W, 3) uint8, contiguous (n * H * W * 3 bytes on disk, no padding)
  clean_index  (n,) int64   row of the clean image in the prepared dataset's /images
  label        (n,) int64   true class id
  source_pred  (n,) int64   the surrogate's class id for the stored (quantised) image
  chunk_done   (n_chunks,) bool, set after each chunk is flushed (resume point)
  per-image records of the success report (success_report.py):
  clean_pred   (n,) int64   the surrogate's class id for the clean image
  float_pred   (n,) int64   the surrogate's class id for the attack's float output
  repaired     (n,) bool    fooled in float, not after rounding within the budget (repaired)
  linf, l2     (n,) float64 size of the stored perturbation, in [0, 1] units
  attrs: method, params (JSON), split, source_weights_sha256 (the surrogate's), versions
         (JSON), seed, batch_size, layout (STORE_LAYOUT), the success report's attributes
         (written and read by success_report.py) and `complete`
root attrs: the seal (file_identity.py: identity, content_sha256), written last.
`source_pred` and `source_weights_sha256` keep the names from when the surrogate was called the
attack source: renaming them would regenerate every store users have.

Generation (adversarial_store.py) writes to `<output>.partial` and renames it when complete;
readers refuse a file without the completion marker.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from robustsweep.input_errors import StoreError
from robustsweep.provenance import package_versions

# 2: per-image success records and the success report (issue #13); a partial file of another
# layout is started afresh instead of resumed
STORE_LAYOUT = 2
REPORT_RECORDS = {
    "clean_pred": np.int64,
    "float_pred": np.int64,
    "repaired": bool,
    "linf": np.float64,
    "l2": np.float64,
}


@dataclass(frozen=True)
class StoredSamples:
    """A whole store group in memory."""

    attack: str
    images: np.ndarray
    clean_index: np.ndarray
    label: np.ndarray
    source_pred: np.ndarray
    attrs: dict


def expected_attrs(
    attack: str, spec: dict, split: str, surrogate_sha: str, seed: int, batch_size: int, n: int
) -> dict:
    """The attributes that identify what a store holds (a partial file is resumed only when
    they all match)."""
    return {
        "attack": attack,
        "method": spec["method"],
        "params": json.dumps({k: v for k, v in spec.items() if k != "method"}, sort_keys=True),
        "split": split,
        "source_weights_sha256": surrogate_sha,
        "seed": seed,
        "batch_size": batch_size,
        "n": n,
        "layout": STORE_LAYOUT,
    }


def open_partial(path: Path, attrs: dict, shape: tuple[int, ...], n_chunks: int) -> h5py.File:
    """Reopen a partial file made with the same settings, or start a fresh one."""
    if path.exists():
        try:
            h5 = h5py.File(path, "a")
            group = h5[attrs["attack"]]
            if all(group.attrs.get(k) == v for k, v in attrs.items()):
                return h5
            h5.close()
        except (OSError, KeyError):
            pass
        path.unlink()
    h5 = h5py.File(path, "w")
    group = h5.create_group(attrs["attack"])
    # contiguous, not chunked: a chunked layout pads the last chunk to a full batch (up to
    # batch_size - 1 images of dead bytes); plain row writes resume just as well
    group.create_dataset("images", shape=shape, dtype=np.uint8)
    for name in ("clean_index", "label", "source_pred"):
        group.create_dataset(name, shape=(shape[0],), dtype=np.int64)
    group.create_dataset("chunk_done", shape=(n_chunks,), dtype=bool)
    create_report_records(group, shape[0])
    group.attrs.update(attrs)
    group.attrs["versions"] = json.dumps(package_versions(), sort_keys=True)
    return h5


def read_store(path: Path) -> StoredSamples:
    """Load a completed store; a missing, truncated or half-written file raises StoreError
    naming it."""
    if not Path(path).exists():
        raise StoreError(f"{path}: adversarial store is missing; rerun the workflow to make it")
    try:
        with h5py.File(path, "r") as h5:
            (attack,) = list(h5.keys())
            group = h5[attack]
            if not group.attrs.get("complete", False):
                raise StoreError(
                    f"{path}: adversarial store is incomplete (no completion "
                    "marker); delete it and rerun the workflow to regenerate it"
                )
            return StoredSamples(
                attack=attack,
                images=group["images"][()],
                clean_index=group["clean_index"][()],
                label=group["label"][()],
                source_pred=group["source_pred"][()],
                attrs=dict(group.attrs),
            )
    except (OSError, KeyError, ValueError) as error:
        raise StoreError(
            f"{path}: adversarial store is corrupt or truncated ({error}); "
            "delete it and rerun the workflow to regenerate it"
        ) from error


# -- the success report (success_report.py) ------------------------------------------------


def create_report_records(group: h5py.Group, n: int) -> None:
    """The per-image datasets the success report is computed from, filled chunk by chunk."""
    for name, dtype in REPORT_RECORDS.items():
        group.create_dataset(name, shape=(n,), dtype=dtype)


def read_report_records(group: h5py.Group) -> dict[str, np.ndarray]:
    """The per-image records and the stored predictions and labels, for
    success_report.success_report()."""
    names = [*REPORT_RECORDS, "label", "source_pred"]
    return {name: group[name][()] for name in names}
