"""Stage 4 input: one forward pass per (trained model, test set), cached in HDF5.

Every metric downstream (all M values, all trials, per-pattern accuracy) is derived from these
logits, so evaluation never runs the network again.

Test sets of this file: `clean` (the test split), `natural` (the natural adversarial set),
`attack-<name>` (transfer: the store's images made against the surrogate, with the
store's attack `spec` as an attribute, as white-box groups have theirs) and, when the study
has a corrupted test set, `corrupted` (data/corruption_set.py). The white-box sets
(`white_box-<name>`, this model attacked itself) are one file per attack (white_box.py), so
adding or changing a white-box attack reruns only that attack's jobs.

Layout: one group per test set (logits_file.py); file attrs: class_ids (what each of the
K logits stands for), architecture, parameters, pretrained_weights (the published weights of a
pretrained run, "" for trained ones), outputs (JSON: the output names of a run whose logits
are not its classes, ho2024's binary detector's ["real", "adversarial"]; [] otherwise; its
gradient-masking checks are skipped, as they attack class labels), the gradient-masking measurements
zero_gradient_fraction, huge_eps_accuracy and forward_disagreement (the randomness check; NaN
when the checks are off), the network's
feature-map cost (models/feature_map_cost.py): activation_elements of one image and
feature_map, the side of the map before global pooling, for a pretrained ImageNet model
sliced to the study's classes logit_positions (JSON: each class's position among the 1000)
and imagenet_a_head (evaluation.imagenet_a_head, which accuracy `accuracy` is), and the seal
(file_identity.py) naming the run, the weights and the prepared dataset it was computed from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import h5py
import numpy as np

from robustsweep.atomic_output import atomic_path
from robustsweep.data.prepared_dataset import load_split
from robustsweep.evaluation.logits_file import write_test_set
from robustsweep.file_identity import identity_for, recorded_digest, seal_h5
from robustsweep.input_errors import InputError
from robustsweep.set_names import transfer_set
from robustsweep.stage_settings import Compute, LogitsSettings, MaskingChecks

if TYPE_CHECKING:  # evaluation reads caches without paying for a torch import
    import torch


def logits_stage(
    *,
    settings: LogitsSettings,
    compute: Compute,
    weights: Path,
    dataset: Path,
    natural: Path,
    output: Path,
    stores: dict[str, Path] | None = None,
    corrupted: Path | None = None,
) -> None:
    from robustsweep.compute_device import configure

    device = configure(compute)
    compute_logits(
        output,
        weights,
        dataset,
        natural,
        stores or {},
        device,
        settings.attack_batch_size,
        settings.seed,
        settings.masking,
        corrupted,
        settings.imagenet_a_head,
    )


def compute_logits(
    output: Path,
    weights: Path,
    dataset: Path,
    natural: Path,
    stores: dict[str, Path],
    device: torch.device,
    attack_batch_size: int = 256,
    seed: int = 0,
    masking: MaskingChecks | None = None,
    corrupted: Path | None = None,
    imagenet_a_head: str = "sliced",
) -> None:
    """Run the model once over the clean, natural-adversarial, every stored attack and (when
    the study has one) the corrupted test set; `masking` adds the gradient-masking
    measurements. The network's feature-map cost is measured on one test-sized image."""
    from robustsweep.attacks.store_file import read_store
    from robustsweep.data.natural_adversarial import read_natural_adversarial
    from robustsweep.models.feature_map_cost import feature_map_cost
    from robustsweep.models.trained_models import load_detector, load_model

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
    specs = {}
    for name, path in stores.items():
        stored = read_store(path)
        test_sets[transfer_set(name)] = (stored.images, stored.label, None, stored.clean_index)
        specs[transfer_set(name)] = store_spec(stored.attrs)
    own = np.isin(clean.labels, card.class_ids)
    if not own.any():
        raise InputError(
            f"the test split holds no images of the run's classes {card.class_ids}; give "
            "'dataset.splits.test' a larger share"
        )
    checks = masking_measurements(
        model,
        card.class_ids,
        clean.images[own],
        clean.labels[own],
        None if card.outputs else masking,  # class-label attacks mean nothing to a detector
        attack_batch_size,
        seed,
        device,
    )
    cost = feature_map_cost(model, clean.images.shape[1], device)
    head = imagenet_a_head if card.logit_positions else None  # only a sliced ImageNet model
    with atomic_path(output) as tmp, h5py.File(tmp, "w") as h5:
        for name, (images, labels, patterns, index) in test_sets.items():
            group = write_test_set(
                h5,
                name,
                model,
                detector,
                images,
                labels,
                device,
                index,
                patterns,
                imagenet_head=head,
            )
            if name in specs:
                group.attrs["spec"] = json.dumps(specs[name], sort_keys=True)
        if corrupted is not None:
            write_corrupted(h5, corrupted, model, detector, device)
        if head is not None:
            h5.attrs.update(logit_positions=json.dumps(card.logit_positions), imagenet_a_head=head)
        h5.attrs.update(
            class_ids=card.class_ids,
            architecture=card.architecture,
            parameters=card.parameters,
            pretrained_weights=card.pretrained_weights or "",
            outputs=json.dumps(card.outputs or []),
            activation_elements=cost.activation_elements,
            feature_map=cost.feature_map,
            **checks,
        )
        identity = identity_for(
            "logits",
            output,
            dataset_sha256=recorded_digest(dataset),
            weights_sha256=recorded_digest(weights),
        )
        seal_h5(h5, identity)


def store_spec(attrs: dict) -> dict:
    """The attack spec (method and parameters) a store was made with, from its attributes."""
    return {"method": str(attrs["method"]), **json.loads(attrs["params"])}


def write_corrupted(h5: h5py.File, path: Path, model, detector, device) -> None:
    """The corrupted test set's group, its images read from the corruption file in batches."""
    from robustsweep.data.corruption_set import open_corruption_set

    with h5py.File(path, "r") as source:
        data = open_corruption_set(source)
        write_test_set(
            h5,
            "corrupted",
            model,
            detector,
            data.images,
            data.labels,
            device,
            data.index,
            data.corruption,
            data.severity,
        )


def masking_measurements(
    model, class_ids, images, labels, masking, batch_size, seed, device
) -> dict[str, float]:
    """Zero-gradient share, huge-eps PGD accuracy and the randomness of two forward passes
    (of the first batch) on the test images of the run's classes."""
    import torch

    from robustsweep.evaluation.gradient_masking import (
        forward_disagreement,
        huge_eps_accuracy,
        zero_gradient_fraction,
    )
    from robustsweep.models.inference import to_float

    if masking is None or not masking.enabled:
        return {
            "zero_gradient_fraction": float("nan"),
            "huge_eps_accuracy": float("nan"),
            "forward_disagreement": float("nan"),
        }
    position = {c: i for i, c in enumerate(class_ids)}
    x = to_float(images, device)
    y = torch.as_tensor([position[int(c)] for c in labels], device=device)
    return {
        "zero_gradient_fraction": zero_gradient_fraction(model, x, y, batch_size),
        "huge_eps_accuracy": huge_eps_accuracy(
            model, x, y, masking.huge_eps, masking.steps, batch_size, seed
        ),
        "forward_disagreement": forward_disagreement(model, x[:batch_size]),
    }
