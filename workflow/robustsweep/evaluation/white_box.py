"""White-box robustness: each trained model attacked itself, one file per (run, attack).

The store's images (transfer robustness) were made against the surrogate; here the attack
reads the run's own gradients, on the clean test images of the run's classes, and the results
are rounded to uint8 like the store's: within the attack's budget, repaired where rounding
undid the attack (attacks/quantisation.py). One file per (run, attack) keeps the expensive part
of evaluation fine-grained: adding a white-box attack, or changing one, reruns only its jobs.

The attack runs in chunks (white_box_parts.py): one job attacks them all into
`<file>.chunks` and resumes there when killed; with `evaluation.shards: K`, K shard jobs
(white_box_shard_stage) attack disjoint chunk ranges and the white-box job gathers them.
Either way the file is written by `write_white_box` from the same arrays, so it is the same
to the byte.

At M < N the evaluation scores the argmax over a trial's M logits. The N-way attack's images
only transfer to that classifier, so with `evaluation.white_box_below_n: restricted` the job
also attacks each M-restricted classifier itself (the run's model answering with the trial's M
logits, models/networks.SelectedLogits) on the images of those M classes, one group per
(M, trial): `white_box-<attack>@m<M>-trial<t>` (results_layout.restricted_set), its logits M-wide.
These attacks run in the white_box job itself, in one piece (not chunked, sharded or resumed).

Layout: one group `white_box-<attack>` with the adversarial images (n, H, W, 3) uint8, the
model's logits on them, label, index (rows in the prepared dataset) and, for detector-head
runs, detector_score; attrs: spec (the attack's method and parameters, JSON) and the set's
success report against the run's model (attacks/success_report.py); root attrs: the seal
(file_identity.py) naming the run, attack, weights and prepared dataset.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch

from robustsweep.atomic_output import atomic_path, partial_path
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
from robustsweep.evaluation.logits_file import write_test_set
from robustsweep.evaluation.white_box_parts import (
    attack_chunks,
    chunk_count,
    iter_shards,
    read_parts,
    shard_chunks,
)
from robustsweep.file_identity import identity_for, recorded_digest, seal_h5
from robustsweep.input_errors import InputError
from robustsweep.models.inference import to_float
from robustsweep.models.trained_models import load_detector, load_model
from robustsweep.set_names import restricted_set, white_box_set
from robustsweep.stage_settings import Compute, WhiteBoxSettings


def white_box_stage(
    *,
    settings: WhiteBoxSettings,
    compute: Compute,
    weights: Path,
    dataset: Path,
    output: Path,
    shards: dict[str, Path] | None = None,
    min_success: float | None = None,
) -> None:
    """Attack the run's model (or, given `shards`, gather the shard jobs' chunks) into its
    white-box file. `min_success` only decides the log's warning (untracked, as for the
    store)."""
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
        precision=settings.precision,
        shards=[path for _, path in iter_shards(shards)] or None,
        restricted_predicted_classes=settings.restricted_predicted_classes,
        trials=settings.trials,
    )
    log_report(white_box_set(settings.attack), report, min_success)


def white_box_shard_stage(
    *,
    settings: WhiteBoxSettings,
    compute: Compute,
    weights: Path,
    dataset: Path,
    output: Path,
    shard: int,
    shards: int,
) -> None:
    """Shard `shard` of `shards`: attack its chunk range into a sealed parts file, resuming
    from `<output>.partial` when a killed job left one."""
    device = configure(compute)
    attack_shard(
        output,
        weights,
        dataset,
        settings.attack,
        settings.spec,
        settings.batch_size,
        settings.seed,
        device,
        shard,
        shards,
        settings.precision,
    )


@dataclass(frozen=True)
class AttackedRun:
    """What a white-box job attacks: the run's model and its own clean test images."""

    model: torch.nn.Module
    class_ids: list[int]
    images: np.ndarray
    labels: np.ndarray
    targets: np.ndarray  # output positions of the labels
    index: np.ndarray  # rows in the prepared dataset


def attacked_run(weights: Path, dataset: Path, device: torch.device) -> AttackedRun:
    model, card = load_model(weights, str(device))
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    clean = load_split(dataset, "test")
    own = np.isin(clean.labels, card.class_ids)
    if not own.any():
        raise InputError(
            f"the test split holds no images of the run's classes {card.class_ids}; give "
            "'dataset.splits.test' a larger share"
        )
    position = {c: i for i, c in enumerate(card.class_ids)}
    labels = clean.labels[own]
    targets = np.asarray([position[int(c)] for c in labels], dtype=np.int64)
    return AttackedRun(
        model, list(card.class_ids), clean.images[own], labels, targets, clean.indices[own]
    )


def fingerprint(
    weights: Path,
    dataset: Path,
    attack: str,
    spec: dict,
    batch_size: int,
    seed: int,
    n: int,
    chunks: range,
    precision: str,
) -> dict:
    """What a parts file holds: a parts file is resumed or gathered only when this matches."""
    return {
        "attack": attack,
        "spec": spec,
        "batch_size": batch_size,
        "seed": seed,
        "n": n,
        "chunks": [chunks.start, chunks.stop],
        "precision": precision,
        "weights_sha256": recorded_digest(weights),
        "dataset_sha256": recorded_digest(dataset),
    }


def attack_shard(
    output: Path,
    weights: Path,
    dataset: Path,
    attack: str,
    spec: dict,
    batch_size: int,
    seed: int,
    device: torch.device,
    shard: int,
    shards: int,
    precision: str = "fp32",
) -> None:
    """One shard job: its chunk range attacked into a sealed parts file at `output`."""
    run = attacked_run(weights, dataset, device)
    n = len(run.images)
    chunks = shard_chunks(n, batch_size, shard, shards)
    work = partial_path(output)
    attack_chunks(
        work,
        run.model,
        ATTACK_METHODS.build(spec),
        run.images,
        run.targets,
        chunks,
        batch_size,
        seed,
        device,
        fingerprint(weights, dataset, attack, spec, batch_size, seed, n, chunks, precision),
        len(run.class_ids),
        precision,
    )
    with h5py.File(work, "a") as h5:
        identity = identity_for(
            "white_box_shard",
            output,
            dataset_sha256=recorded_digest(dataset),
            weights_sha256=recorded_digest(weights),
        )
        seal_h5(h5, identity)
    os.replace(work, output)


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
    report["variant"] = method.variant(len(class_ids))
    return adversarial, logits, report


def restricted_classifier(
    model: torch.nn.Module, class_ids: list[int], chosen: list[int]
) -> torch.nn.Module:
    """The run's model answering with the logits of the `chosen` classes only, in that order:
    the classifier an M < N row scores (its argmax over the M logits)."""
    from robustsweep.models.networks import SelectedLogits

    position = {c: i for i, c in enumerate(class_ids)}
    return SelectedLogits(model, [position[c] for c in chosen]).eval()


@dataclass(frozen=True)
class RestrictedSet:
    """One M-restricted classifier's white-box set: what write_white_box stores as a group."""

    name: str
    classifier: torch.nn.Module
    images: np.ndarray
    labels: np.ndarray
    index: np.ndarray
    logits: np.ndarray
    report: dict


def restricted_sets(
    run: AttackedRun,
    attack: str,
    spec: dict,
    restricted_predicted_classes: list[int],
    trials: int,
    batch_size: int,
    seed: int,
    device: torch.device,
) -> list[RestrictedSet]:
    """Each M-restricted classifier (M in `restricted_predicted_classes`, each trial)
    attacked on the images of its M classes."""
    sets = []
    for m in restricted_predicted_classes:
        for trial in range(trials):
            name = restricted_set(attack, m, trial)
            chosen = choose_trial_classes(run.class_ids, m, seed, trial)
            mine = np.isin(run.labels, chosen)
            classifier = restricted_classifier(run.model, run.class_ids, chosen).to(device)
            images, logits, report = white_box_images(
                classifier, chosen, run.images[mine], run.labels[mine], spec, batch_size, seed,
                device,
            )  # fmt: skip
            log_report(name, report, None)
            sets.append(
                RestrictedSet(
                    name, classifier, images, run.labels[mine], run.index[mine], logits, report
                )
            )
    return sets


def attack_own_model(
    output: Path,
    weights: Path,
    dataset: Path,
    attack: str,
    spec: dict,
    batch_size: int,
    seed: int,
    device: torch.device,
    precision: str = "fp32",
    shards: list[Path] | None = None,
    restricted_predicted_classes: list[int] = (),
    trials: int = 1,
) -> dict:
    """Attack the run's model on the clean test images of its classes (or gather the
    `shards` files that did) and cache the result; returns the set's success report (the
    N-way head's). With `restricted_predicted_classes`, also each M-restricted classifier of
    those M values and `trials` trials (module docstring)."""
    run = attacked_run(weights, dataset, device)
    n = len(run.images)
    method = ATTACK_METHODS.build(spec)
    if shards:
        k = len(shards)
        prints = [
            fingerprint(
                weights,
                dataset,
                attack,
                spec,
                batch_size,
                seed,
                n,
                shard_chunks(n, batch_size, i, k),
                precision,
            )
            for i in range(k)
        ]
        parts = read_parts(shards, prints)
        work = None
    else:
        chunks = range(chunk_count(n, batch_size))
        work = output.with_name(output.name + ".chunks")
        whole = fingerprint(weights, dataset, attack, spec, batch_size, seed, n, chunks, precision)
        attack_chunks(
            work,
            run.model,
            method,
            run.images,
            run.targets,
            chunks,
            batch_size,
            seed,
            device,
            whole,
            len(run.class_ids),
            precision,
        )
        parts = read_parts([work], [whole])
    report = success_report(
        run.targets,
        parts["clean_pred"],
        parts["float_pred"],
        parts["final_pred"],
        parts["repaired"],
        parts["linf"],
        parts["l2"],
        method.budget(),
        method.baseline,
    )
    report["variant"] = method.variant(len(run.class_ids))
    restricted = restricted_sets(
        run, attack, spec, restricted_predicted_classes, trials, batch_size, seed, device
    )
    write_white_box(output, weights, dataset, attack, spec, run, parts, report, device, restricted)
    if work is not None:
        work.unlink()
    return report


def write_white_box(
    output: Path,
    weights: Path,
    dataset: Path,
    attack: str,
    spec: dict,
    run: AttackedRun,
    parts: dict[str, np.ndarray],
    report: dict,
    device: torch.device,
    restricted: list[RestrictedSet] = (),
) -> None:
    """The white-box file, atomically, from the gathered chunks (and the restricted
    classifiers' sets)."""
    detector = load_detector(weights, str(device))
    with atomic_path(output) as tmp, h5py.File(tmp, "w") as h5:
        group = write_test_set(
            h5,
            white_box_set(attack),
            run.model,
            detector,
            parts["images"],
            run.labels,
            device,
            run.index,
            logits=parts["final_logits"],
        )
        group.create_dataset("images", data=parts["images"])
        group.attrs["spec"] = json.dumps(spec, sort_keys=True)
        write_report(group, report)
        for one in restricted:
            group = write_test_set(
                h5,
                one.name,
                one.classifier,
                None,
                one.images,
                one.labels,
                device,
                one.index,
                logits=one.logits,
            )
            group.create_dataset("images", data=one.images)
            group.attrs["spec"] = json.dumps(spec, sort_keys=True)
            write_report(group, one.report)
        identity = identity_for(
            "white_box",
            output,
            dataset_sha256=recorded_digest(dataset),
            weights_sha256=recorded_digest(weights),
        )
        seal_h5(h5, identity)
