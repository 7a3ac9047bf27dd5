"""White-box robustness: each trained model attacked itself, one job per (run, attack).

The store's images (transfer robustness) were made against one source model; here the attack
reads the run's own gradients, on the clean test images of the run's classes, and the results
are rounded to uint8 like the store's: within the attack's budget, repaired where rounding
undid the attack (attacks/quantisation.py). One file per (run, attack) keeps the expensive part
of evaluation fine-grained: adding a white-box attack, or changing one, reruns only its jobs.

At M < N the evaluation scores the argmax over a trial's M logits. The N-way attack's images
only transfer to that classifier, so with `evaluation.white_box_below_n: restricted` the job
also attacks each M-restricted classifier itself (the run's model answering with the trial's M
logits, models/networks.SelectedLogits) on the images of those M classes, one group per
(M, trial): `whitebox-<attack>@m<M>-trial<t>` (restricted_group_name), its logits M-wide.

Layout: one group `whitebox-<attack>` with the adversarial images (n, H, W, 3) uint8, the
model's logits on them, label, index (rows in the prepared dataset) and, for detector-head
runs, detector_score; attrs: spec (the attack's method and parameters, JSON) and the set's
success report against the run's model (attacks/success_report.py); root attrs: the seal
(file_identity.py) naming the run, attack, weights and prepared dataset.
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
from robustsweep.attacks.quantisation import quantise_attack
from robustsweep.attacks.success_report import (
    log_report,
    perturbation_norms,
    success_report,
    write_report,
)
from robustsweep.compute_device import configure
from robustsweep.data.class_subsets import choose_trial_classes
from robustsweep.data.prepared_dataset import load_split
from robustsweep.evaluation.test_set_logits import write_test_set
from robustsweep.evaluation.test_set_names import restricted_group_name
from robustsweep.file_identity import identity_for, recorded_digest, seal_h5
from robustsweep.input_errors import InputError
from robustsweep.models.inference import to_float
from robustsweep.models.trained_models import load_detector, load_model
from robustsweep.stage_settings import Compute, WhiteBoxSettings


def white_box_stage(
    *,
    settings: WhiteBoxSettings,
    compute: Compute,
    weights: Path,
    dataset: Path,
    output: Path,
    min_success: float | None = None,
) -> None:
    """`min_success` only decides the log's warning (untracked, as for the store)."""
    device = configure(compute)
    report = attack_own_model(
        output,
        weights,
        dataset,
        settings.attack,
        settings.spec,
        settings.batch_size,
        settings.seed,
        device,
        settings.restricted_m,
        settings.trials,
    )
    name = f"whitebox-{settings.attack}"
    log_report(name, report, min_success)


def white_box_images(
    model: torch.nn.Module,
    class_ids: list[int],
    images: np.ndarray,
    labels: np.ndarray,
    spec: dict,
    batch_size: int,
    seed: int,
    device: torch.device,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Attack `model` itself on images of its classes; uint8 results like the store's, the
    model's logits on them (from the success report's pass over the stored images) and
    their success report against `model`."""
    position = {c: i for i, c in enumerate(class_ids)}
    method = ATTACK_METHODS.build(spec)
    attack = method.build(model, len(class_ids))
    targets = np.asarray([position[int(c)] for c in labels], dtype=np.int64)
    torch.manual_seed(seed)
    fields = ("images", "clean_pred", "float_pred", "final_pred", "repaired", "final_logits")
    parts: dict[str, list[np.ndarray]] = {name: [] for name in (*fields, "linf", "l2")}
    for start in range(0, len(images), batch_size):
        rows = slice(start, start + batch_size)
        x = to_float(images[rows], device)
        y = torch.as_tensor(targets[rows], device=device)
        batch = quantise_attack(model, method, x, attack_in_parts(attack, x, y), y)
        for name in fields:
            parts[name].append(getattr(batch, name).cpu().numpy())
        # per batch: the float64 differences of a whole ImageNet-sized set would not fit
        linf, l2 = perturbation_norms(images[rows], parts["images"][-1])
        parts["linf"].append(linf)
        parts["l2"].append(l2)
    if len(images) == 0:
        parts = {"images": [images[:0]]} | {
            name: [targets[:0]] for name in parts if name != "images"
        }
        parts["final_logits"] = [np.zeros((0, len(class_ids)), np.float32)]
    adversarial, clean_pred, float_pred, final_pred, repaired, logits, linf, l2 = (
        np.concatenate(column) for column in parts.values()
    )
    report = success_report(
        targets,
        clean_pred,
        float_pred,
        final_pred,
        repaired,
        linf,
        l2,
        method.budget(),
        method.baseline,
    )
    return adversarial, logits, report


def restricted_classifier(
    model: torch.nn.Module, class_ids: list[int], chosen: list[int]
) -> torch.nn.Module:
    """The run's model answering with the logits of the `chosen` classes only, in that order:
    the classifier an M < N row scores (its argmax over the M logits)."""
    from robustsweep.models.networks import SelectedLogits

    position = {c: i for i, c in enumerate(class_ids)}
    return SelectedLogits(model, [position[c] for c in chosen]).eval()


def attack_own_model(
    output: Path,
    weights: Path,
    dataset: Path,
    attack: str,
    spec: dict,
    batch_size: int,
    seed: int,
    device: torch.device,
    restricted_m: list[int] = (),
    trials: int = 1,
) -> dict:
    """Attack the run's model on the clean test images of its classes and cache the result;
    returns the set's success report (the N-way head's). With `restricted_m`, also each
    M-restricted classifier of those M values and `trials` trials (module docstring)."""
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
    adversarial, logits, report = white_box_images(
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
            logits=logits,
        )
        group.create_dataset("images", data=adversarial)
        group.attrs["spec"] = json.dumps(spec, sort_keys=True)
        write_report(group, report)
        for m in restricted_m:
            for trial in range(trials):
                name = restricted_group_name(attack, m, trial)
                chosen = choose_trial_classes(card.class_ids, m, seed, trial)
                mine = np.isin(labels, chosen)
                restricted = restricted_classifier(model, card.class_ids, chosen).to(device)
                images_m, logits_m, report_m = white_box_images(
                    restricted, chosen, images[mine], labels[mine], spec, batch_size, seed, device
                )
                group = write_test_set(
                    h5,
                    name,
                    restricted,
                    None,
                    images_m,
                    labels[mine],
                    device,
                    clean.indices[own][mine],
                    logits=logits_m,
                )
                group.create_dataset("images", data=images_m)
                group.attrs["spec"] = json.dumps(spec, sort_keys=True)
                write_report(group, report_m)
                log_report(name, report_m, None)
        identity = identity_for(
            "white_box",
            output,
            dataset_sha256=recorded_digest(dataset),
            weights_sha256=recorded_digest(weights),
        )
        seal_h5(h5, identity)
    return report
