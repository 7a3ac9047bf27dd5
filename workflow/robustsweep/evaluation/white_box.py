"""White-box robustness: each trained model attacked itself, one job per (run, attack).

The store's images (transfer robustness) were made against one source model; here the attack
reads the run's own gradients, on the clean test images of the run's classes, and the results
are rounded to uint8 like the store's. One file per (run, attack) keeps the expensive part of
evaluation fine-grained: adding a white-box attack, or changing one, reruns only its jobs.

Layout: one group `whitebox-<attack>` with the adversarial images (n, H, W, 3) uint8, the
model's logits on them, label, index (rows in the prepared dataset) and, for detector-head
runs, detector_score; attrs: spec (the attack's method and parameters, JSON); root attrs:
the seal (file_identity.py) naming the run, attack, weights and prepared dataset.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import torch

from robustsweep.atomic_output import atomic_path
from robustsweep.attacks.attack_batches import attack_in_parts
from robustsweep.attacks.methods import ATTACK_METHODS
from robustsweep.compute_device import configure
from robustsweep.data.prepared_dataset import load_split
from robustsweep.evaluation.test_set_logits import write_test_set
from robustsweep.file_identity import identity_for, recorded_digest, seal_h5
from robustsweep.input_errors import InputError
from robustsweep.models.inference import quantize, to_float
from robustsweep.models.trained_models import load_detector, load_model
from robustsweep.stage_settings import AttackSettings, Compute


def white_box_stage(
    *, settings: AttackSettings, compute: Compute, weights: Path, dataset: Path, output: Path
) -> None:
    device = configure(compute)
    attack_own_model(
        output,
        weights,
        dataset,
        settings.attack,
        settings.spec,
        settings.batch_size,
        settings.seed,
        device,
    )


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
    position = {c: i for i, c in enumerate(class_ids)}
    attack = ATTACK_METHODS.build(spec).build(model, len(class_ids))
    torch.manual_seed(seed)
    parts = []
    for start in range(0, len(images), batch_size):
        x = to_float(images[start : start + batch_size], device)
        y = torch.as_tensor([position[int(c)] for c in labels[start : start + batch_size]])
        parts.append(quantize(attack_in_parts(attack, x, y.to(device))).cpu().numpy())
    return np.concatenate(parts) if parts else images[:0]


def attack_own_model(
    output: Path,
    weights: Path,
    dataset: Path,
    attack: str,
    spec: dict,
    batch_size: int,
    seed: int,
    device: torch.device,
) -> None:
    """Attack the run's model on the clean test images of its classes and cache the result."""
    model, card = load_model(weights, str(device))
    detector = load_detector(weights, str(device), card)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    clean = load_split(dataset, "test")
    own = np.isin(clean.labels, card.class_ids)
    if not own.any():
        raise InputError(
            f"the test split holds no images of the run's classes {card.class_ids}; give "
            "'dataset.splits.test' a larger share"
        )
    images, labels = clean.images[own], clean.labels[own]
    adversarial = white_box_images(
        model, card.class_ids, images, labels, spec, batch_size, seed, device
    )
    with atomic_path(output) as tmp, h5py.File(tmp, "w") as h5:
        group = write_test_set(
            h5,
            f"whitebox-{attack}",
            model,
            detector,
            adversarial,
            labels,
            device,
            clean.indices[own],
        )
        group.create_dataset("images", data=adversarial)
        group.attrs["spec"] = json.dumps(spec, sort_keys=True)
        identity = identity_for(
            "white_box",
            output,
            dataset_sha256=recorded_digest(dataset),
            weights_sha256=recorded_digest(weights),
        )
        seal_h5(h5, identity)
