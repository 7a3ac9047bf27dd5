"""Stage 4 input: one forward pass per (trained model, test set), cached in HDF5.

Every metric downstream (all M values, all trials, per-pattern accuracy) is derived from these
logits, so evaluation never runs the network again.

Test sets: `clean` (the test split), `natural` (mined natural adversarial images),
`attack-<name>` (transfer: the store's images made against the attack source model) and
`whitebox-<name>` (the same attack run against this model now, on the test images of its
classes, quantised to uint8 like the store).

Layout: one group per test set with logits (n, K) float32, label (n,) int64 class ids,
`index` (n,) rows in the prepared dataset (aligns attacked images with their clean version;
not for the natural set), `pattern` for the natural set, `detector_score` (n,) for a run with
seed 001's detector head (its probability that each image is adversarial) and, on white-box
groups, the attack's `spec` (JSON) as an attribute; file attrs: class_ids (what each of the K
logits stands for), architecture, parameters, pretrained_weights (the published weights of a
pretrained run, "" for trained ones), and the gradient-masking measurements
zero_gradient_fraction and huge_eps_accuracy (NaN when the checks are off).
"""

from __future__ import annotations

import json
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
    """A test set's logits with the labels, dataset rows and natural pattern of each image."""

    logits: np.ndarray
    labels: np.ndarray
    patterns: np.ndarray | None
    index: np.ndarray | None = None
    detector_score: np.ndarray | None = None
    spec: dict | None = None  # the attack of a white-box set
    adversarial: np.ndarray | None = None  # which images are attacked (hybrid mixtures)


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


def white_box_images(
    model: torch.nn.Module,
    class_ids: list[int],
    images: np.ndarray,
    labels: np.ndarray,
    spec: dict,
    batch_size: int,
    seed: int,
    device: torch.device,
) -> np.ndarray:
    """Attack `model` itself on images of its classes; uint8 results like the store's."""
    import torch

    from robustsweep.adversarial_store import attack_in_parts, quantize, to_float
    from robustsweep.attack_registry import build_attack

    position = {c: i for i, c in enumerate(class_ids)}
    attack = build_attack(model, spec, len(class_ids))
    torch.manual_seed(seed)
    parts = []
    for start in range(0, len(images), batch_size):
        x = to_float(images[start : start + batch_size], device)
        y = torch.as_tensor([position[int(c)] for c in labels[start : start + batch_size]])
        parts.append(quantize(attack_in_parts(attack, x, y.to(device))).cpu().numpy())
    return np.concatenate(parts) if parts else images[:0]


def compute_logits(
    output: Path,
    weights: Path,
    dataset: Path,
    natural: Path,
    stores: dict[str, Path],
    device: torch.device,
    white_box: dict[str, dict] | None = None,
    attack_batch_size: int = 256,
    seed: int = 0,
    masking: dict | None = None,
) -> None:
    """Run the model once over clean, natural-adversarial, every stored attack test set and
    every white-box attack of this model; `masking` (the config's evaluation.masking_checks:
    enabled, huge_eps, steps) adds the gradient-masking measurements."""
    from robustsweep.adversarial_store import read_store
    from robustsweep.natural_adversarial import read_natural_adversarial
    from robustsweep.trained_models import load_detector, load_model

    model, card = load_model(weights, str(device))
    detector = load_detector(weights, str(device), card)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    clean = load_split(dataset, "test")
    natural_set = read_natural_adversarial(natural)
    test_sets = {
        "clean": (clean.images, clean.labels, None, clean.indices),
        "natural": (natural_set["images"], natural_set["label"], natural_set["pattern"], None),
    }
    for name, path in stores.items():
        stored = read_store(path)
        test_sets[f"attack-{name}"] = (stored.images, stored.label, None, stored.clean_index)
    own = np.isin(clean.labels, card.class_ids)
    for name, spec in (white_box or {}).items():
        images = white_box_images(
            model,
            card.class_ids,
            clean.images[own],
            clean.labels[own],
            spec,
            attack_batch_size,
            seed,
            device,
        )
        test_sets[f"whitebox-{name}"] = (images, clean.labels[own], None, clean.indices[own])
    checks = masking_measurements(
        model,
        card.class_ids,
        clean.images[own],
        clean.labels[own],
        masking,
        attack_batch_size,
        seed,
        device,
    )
    with atomic_path(output) as tmp, h5py.File(tmp, "w") as h5:
        for name, (images, labels, patterns, index) in test_sets.items():
            group = h5.create_group(name)
            group.create_dataset("logits", data=forward(model, images, device))
            group.create_dataset("label", data=labels)
            if index is not None:
                group.create_dataset("index", data=index)
            if patterns is not None:
                group.create_dataset(
                    "pattern", data=patterns.astype(object), dtype=h5py.string_dtype()
                )
            if detector is not None:
                group.create_dataset("detector_score", data=score(detector, images, device))
            if name.startswith("whitebox-"):
                spec = (white_box or {})[name.removeprefix("whitebox-")]
                group.attrs["spec"] = json.dumps(spec, sort_keys=True)
        h5.attrs.update(
            class_ids=card.class_ids,
            architecture=card.architecture,
            parameters=card.parameters,
            pretrained_weights=card.weights_source or "",
            **checks,
        )


def score(detector, images: np.ndarray, device, batch_size: int = 1024) -> np.ndarray:
    """The detector head's probability that each image is adversarial."""
    from robustsweep.adversarial_detector import detector_scores
    from robustsweep.adversarial_store import to_float

    parts = [
        detector_scores(*detector, to_float(images[i : i + batch_size], device)).cpu().numpy()
        for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def masking_measurements(
    model, class_ids, images, labels, masking, batch_size, seed, device
) -> dict[str, float]:
    """Zero-gradient share and huge-eps PGD accuracy on the test images of the run's classes."""
    import torch

    from robustsweep.adversarial_store import to_float
    from robustsweep.gradient_masking import huge_eps_accuracy, zero_gradient_fraction

    if not masking or not masking.get("enabled", True):
        return {"zero_gradient_fraction": float("nan"), "huge_eps_accuracy": float("nan")}
    position = {c: i for i, c in enumerate(class_ids)}
    x = to_float(images, device)
    y = torch.as_tensor([position[int(c)] for c in labels], device=device)
    return {
        "zero_gradient_fraction": zero_gradient_fraction(model, x, y, batch_size),
        "huge_eps_accuracy": huge_eps_accuracy(
            model, x, y, masking["huge_eps"], masking["steps"], batch_size, seed
        ),
    }


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
            index = group["index"][()] if "index" in group else None
            score = group["detector_score"][()] if "detector_score" in group else None
            spec = json.loads(group.attrs["spec"]) if "spec" in group.attrs else None
            sets[name] = TestSetLogits(
                group["logits"][()], group["label"][()], patterns, index, score, spec
            )
        attrs = {
            "class_ids": [int(c) for c in h5.attrs["class_ids"]],
            "architecture": str(h5.attrs["architecture"]),
            "parameters": int(h5.attrs["parameters"]),
            "pretrained_weights": str(h5.attrs.get("pretrained_weights", "")),
            "zero_gradient_fraction": float(h5.attrs.get("zero_gradient_fraction", np.nan)),
            "huge_eps_accuracy": float(h5.attrs.get("huge_eps_accuracy", np.nan)),
        }
    return sets, attrs
