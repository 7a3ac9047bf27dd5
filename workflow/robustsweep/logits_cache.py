"""Stage 4 input: one forward pass per (trained model, test set), cached in HDF5.

Every metric downstream (all M values, all trials, per-pattern accuracy) is derived from these
logits, so evaluation never runs the network again.

Layout: one group per test set (`clean`, `natural`, `attack-<name>`) with
  logits (n, K) float32, label (n,) int64 class ids, and `pattern` for the natural set;
  file attrs: class_ids (what each of the K logits stands for), architecture, parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import h5py
import numpy as np

from robustsweep.atomic_output import atomic_path
from robustsweep.prepared_dataset import load_split

if TYPE_CHECKING:  # evaluation reads caches without paying for a torch import
    import torch


@dataclass(frozen=True)
class TestSetLogits:
    """A test set's logits with the labels and (optional) natural pattern of each image."""

    logits: np.ndarray
    labels: np.ndarray
    patterns: np.ndarray | None


def forward(
    model: torch.nn.Module, images: np.ndarray, device: torch.device, batch_size: int = 1024
) -> np.ndarray:
    """Logits for uint8 (n, H, W, 3) images, batched."""
    import torch

    from robustsweep.adversarial_store import to_float

    with torch.no_grad():
        parts = [
            model(to_float(images[i : i + batch_size], device)).float().cpu().numpy()
            for i in range(0, len(images), batch_size)
        ]
    return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)


def compute_logits(
    output: Path,
    weights: Path,
    dataset: Path,
    natural: Path,
    stores: dict[str, Path],
    device: torch.device,
) -> None:
    """Run the model once over clean, natural-adversarial and every stored attack test set."""
    from robustsweep.adversarial_store import read_store
    from robustsweep.natural_adversarial import read_natural_adversarial
    from robustsweep.trained_models import load_model

    model, card = load_model(weights, str(device))
    clean = load_split(dataset, "test")
    natural_set = read_natural_adversarial(natural)
    test_sets = {
        "clean": (clean.images, clean.labels, None),
        "natural": (natural_set["images"], natural_set["label"], natural_set["pattern"]),
    }
    for name, path in stores.items():
        stored = read_store(path)
        test_sets[f"attack-{name}"] = (stored.images, stored.label, None)
    with atomic_path(output) as tmp, h5py.File(tmp, "w") as h5:
        for name, (images, labels, patterns) in test_sets.items():
            group = h5.create_group(name)
            group.create_dataset("logits", data=forward(model, images, device))
            group.create_dataset("label", data=labels)
            if patterns is not None:
                group.create_dataset(
                    "pattern", data=patterns.astype(object), dtype=h5py.string_dtype()
                )
        h5.attrs.update(
            class_ids=card.class_ids, architecture=card.architecture, parameters=card.parameters
        )


def read_logits(path: Path) -> tuple[dict[str, TestSetLogits], dict]:
    """All test sets of a cache and its attributes."""
    with h5py.File(path, "r") as h5:
        sets = {}
        for name, group in h5.items():
            patterns = None
            if "pattern" in group:
                patterns = np.asarray(
                    [p.decode() if isinstance(p, bytes) else p for p in group["pattern"][()]]
                )
            sets[name] = TestSetLogits(group["logits"][()], group["label"][()], patterns)
        attrs = {
            "class_ids": [int(c) for c in h5.attrs["class_ids"]],
            "architecture": str(h5.attrs["architecture"]),
            "parameters": int(h5.attrs["parameters"]),
        }
    return sets, attrs
