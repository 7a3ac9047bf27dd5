"""A test set's cached logits, as the logits cache and the white-box files hold them.

One HDF5 group per test set: logits (n, K) float32, label (n,) int64 class ids, `index` (n,)
rows in the prepared dataset (aligns attacked images with their clean version; not for the
natural set), `pattern` for the natural set (its natural pattern) and the corrupted set (its
corruption, with `severity`), `detector_score` (n,) for a run with tan2022's detector head
(its probability that each image is adversarial) and, on white-box and transfer groups, the
attack's `spec` (JSON) as an attribute. A pretrained ImageNet model whose logits are sliced
to the study's classes (models/networks.SelectedLogits) also gets, per image, the position of
its 1000-way argmax (`argmax_1000`) and, with `evaluation.imagenet_a_head: full`, all 1000
logits (`logits_1000`), so accuracy can be scored both ways (run_evaluation.py). Written by
logits_cache.py and white_box.py, read by run_evaluation.py and the Grad-CAM panels.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np


@dataclass(frozen=True)
class TestSetLogits:
    """A test set's logits with the labels, dataset rows and natural pattern of each image."""

    logits: np.ndarray
    labels: np.ndarray
    patterns: np.ndarray | None
    index: np.ndarray | None = None
    detector_score: np.ndarray | None = None
    spec: dict | None = None  # the attack of a white-box or transfer set
    adversarial: np.ndarray | None = None  # which images are attacked (hybrid mixtures)
    severity: np.ndarray | None = None  # each image's corruption severity (corrupted set)
    argmax_1000: np.ndarray | None = None  # a pretrained model's 1000-way argmax position


def write_test_set(
    h5: h5py.File,
    name: str,
    model,
    detector,
    images: np.ndarray,
    labels: np.ndarray,
    device,
    index: np.ndarray | None = None,
    patterns: np.ndarray | None = None,
    severity: np.ndarray | None = None,
    logits: np.ndarray | None = None,
    imagenet_head: str | None = None,
) -> h5py.Group:
    """One test set's group: the model's logits, labels, rows, patterns, severities, detector
    scores. `images` may be an h5py dataset: it is read in batches. `logits`: the model's
    logits on `images` where the caller has them already (a white-box set's, from its success
    report), instead of another forward pass. `imagenet_head` (sliced or full) adds, for a
    model sliced from ImageNet's 1000 logits, the 1000-way argmax (and, full, the logits)."""
    from robustsweep.models.networks import SelectedLogits

    full = None
    if logits is None:
        from robustsweep.models.inference import forward

        if imagenet_head is not None and isinstance(model, SelectedLogits) and len(images):
            full = forward(model.model, images, device)  # one pass: the slice is a view of it
            logits = np.ascontiguousarray(full[:, model.positions.cpu().numpy()])
        else:
            logits = forward(model, images, device)
    group = h5.create_group(name)
    group.create_dataset("logits", data=logits)
    if full is not None:
        group.create_dataset("argmax_1000", data=full.argmax(1).astype(np.int64))
        if imagenet_head == "full":
            group.create_dataset("logits_1000", data=full)
    group.create_dataset("label", data=labels)
    if index is not None:
        group.create_dataset("index", data=index)
    if patterns is not None:
        group.create_dataset("pattern", data=patterns.astype(object), dtype=h5py.string_dtype())
    if severity is not None:
        group.create_dataset("severity", data=severity)
    if detector is not None:
        group.create_dataset("detector_score", data=score(detector, images, device))
    return group


def score(detector, images: np.ndarray, device, batch_size: int = 1024) -> np.ndarray:
    """The detector head's probability that each image is adversarial."""
    from robustsweep.models.inference import to_float
    from robustsweep.training.adversarial_detector import detector_scores

    parts = [
        detector_scores(*detector, to_float(images[i : i + batch_size], device)).cpu().numpy()
        for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def read_logits(path: Path, white_box: dict[str, Path] | None = None):
    """All test sets of a cache (and of the run's white-box files) and the cache's attributes."""
    with h5py.File(path, "r") as h5:
        sets = {name: _read_group(group) for name, group in h5.items()}
        attrs = {
            "class_ids": [int(c) for c in h5.attrs["class_ids"]],
            "architecture": str(h5.attrs["architecture"]),
            "parameters": int(h5.attrs["parameters"]),
            "pretrained_weights": str(h5.attrs.get("pretrained_weights", "")),
            "zero_gradient_fraction": float(h5.attrs.get("zero_gradient_fraction", np.nan)),
            "huge_eps_accuracy": float(h5.attrs.get("huge_eps_accuracy", np.nan)),
            "forward_disagreement": float(h5.attrs.get("forward_disagreement", np.nan)),
            "activation_elements": float(h5.attrs.get("activation_elements", np.nan)),
            "feature_map": str(h5.attrs.get("feature_map", "")),
            "outputs": json.loads(h5.attrs.get("outputs", "[]")),
            "logit_positions": json.loads(h5.attrs.get("logit_positions", "null")),
            "imagenet_a_head": str(h5.attrs.get("imagenet_a_head", "sliced")),
        }
    for white_box_path in (white_box or {}).values():
        with h5py.File(white_box_path, "r") as h5:
            sets |= {name: _read_group(group) for name, group in h5.items()}
    return sets, attrs


def _read_group(group: h5py.Group) -> TestSetLogits:
    patterns = group["pattern"].asstr()[()] if "pattern" in group else None
    return TestSetLogits(
        group["logits"][()],
        group["label"][()],
        None if patterns is None else np.asarray(patterns),
        group["index"][()] if "index" in group else None,
        group["detector_score"][()] if "detector_score" in group else None,
        json.loads(group.attrs["spec"]) if "spec" in group.attrs else None,
        severity=group["severity"][()] if "severity" in group else None,
        argmax_1000=group["argmax_1000"][()] if "argmax_1000" in group else None,
    )
