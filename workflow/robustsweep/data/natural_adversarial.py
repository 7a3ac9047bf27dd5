"""Mining a natural adversarial test set the way ImageNet-A was mined (zhu2025, Sec. 1).

Every pool image is corrupted with every configured natural pattern; the surrogate (a fixed
model) classifies the results and only the images it gets wrong are kept (the adversarial
filter of Hendrycks et al.), optionally only those it gets wrong with low confidence
(`max_confidence`). The kept set stores each image's pattern, so accuracy per pattern can be
reported.

File layout: images (n, H, W, 3) uint8, label, clean_index, pattern (string),
reference_pred, reference_confidence (the surrogate's: on-disk names from when it was called
the reference, kept so mined sets stay valid); attrs: patterns, severity, seed, candidates
and kept counts per pattern (JSON), reference_weights_sha256 (the surrogate's), and the seal
(file_identity.py). A filter that keeps nothing stops the job: an empty set would score every
model on nothing.

A study with a natural adversarial set on disk (ImageNet-A: `natural_adversarial.root`) is
not mined: `index_natural_folder` writes its file index instead (paths, label, clean_index -1,
pattern = the set's name; attrs image_size, root, seal), labelled by class name with the
prepared dataset's labels, and readers decode it with the evaluation preprocessing.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import h5py
import numpy as np
import torch
from scipy.special import softmax
from tqdm import tqdm

from robustsweep.atomic_output import atomic_path
from robustsweep.compute_device import configure
from robustsweep.data.image_stats import MTIMES, SIZES, check_unchanged, file_stats
from robustsweep.data.patterns import apply_pattern
from robustsweep.data.prepared_dataset import load_class_names, load_split
from robustsweep.file_identity import identity_for, recorded_digest, seal_h5
from robustsweep.input_errors import FileCheckError, InputError
from robustsweep.models.inference import forward
from robustsweep.models.trained_models import load_model
from robustsweep.provenance import file_sha256
from robustsweep.stage_settings import Compute, MiningSettings, NaturalFolderSettings


def corrupt_pool(
    images: np.ndarray, patterns: list[str], severity: float, seed: int, variants: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All (image, pattern, variant) candidates: images, clean row, pattern name."""
    out, rows, names = [], [], []
    for row, image in enumerate(tqdm(images, desc="corrupting", unit="img", mininterval=5)):
        for name in patterns:
            for variant in range(variants):
                out.append(apply_pattern(name, image, severity, seed, row, variant))
                rows.append(row)
                names.append(name)
    return np.stack(out), np.asarray(rows), np.asarray(names)


def mine_stage(
    *, settings: MiningSettings, compute: Compute, dataset: Path, surrogate: Path, output: Path
) -> None:
    device = configure(compute)
    mine_natural_adversarial(
        output,
        dataset,
        surrogate,
        settings.patterns,
        settings.severity,
        settings.variants,
        settings.seed,
        device,
        settings.max_confidence,
    )


def mine_natural_adversarial(
    output: Path,
    dataset: Path,
    surrogate_weights: Path,
    patterns: list[str],
    severity: float,
    variants: int,
    seed: int,
    device: torch.device,
    max_confidence: float = 1.0,
) -> None:
    """Corrupt the pool, keep what the surrogate misclassifies (at most
    `max_confidence` sure of its wrong answer), and store it."""
    pool = load_split(dataset, "pool")
    if len(pool.labels) == 0:
        raise InputError(
            "the pool split holds no images, so there is nothing to mine natural adversarial "
            "examples from; give 'dataset.splits.pool' a share or set 'natural_adversarial.root'"
        )
    model, card = load_model(surrogate_weights, str(device))
    candidates, rows, names = corrupt_pool(pool.images, patterns, severity, seed, variants)
    probabilities = softmax(forward(model, candidates, device), axis=1)
    pred_index, confidence = probabilities.argmax(1), probabilities.max(1)
    predicted = np.asarray(card.class_ids)[pred_index]
    keep = (predicted != pool.labels[rows]) & (confidence <= max_confidence)
    counts = {
        "candidates": dict(Counter(names.tolist())),
        "kept": dict(Counter(names[keep].tolist())),
    }
    if not keep.any():
        wrong = int((predicted != pool.labels[rows]).sum())
        raise InputError(
            f"the natural adversarial set would be empty: the surrogate got {wrong} of "
            f"{len(keep)} corrupted pool images wrong, none with confidence <= "
            f"max_confidence {max_confidence}; raise 'natural_adversarial.max_confidence', "
            "'natural_adversarial.severity' or 'variants', or add patterns"
        )
    with atomic_path(output) as tmp, h5py.File(tmp, "w") as h5:
        h5.create_dataset("images", data=candidates[keep])
        h5.create_dataset("label", data=pool.labels[rows][keep])
        h5.create_dataset("clean_index", data=pool.indices[rows][keep])
        h5.create_dataset("pattern", data=names[keep].astype(object), dtype=h5py.string_dtype())
        h5.create_dataset("reference_pred", data=predicted[keep])
        h5.create_dataset("reference_confidence", data=confidence[keep])
        h5.attrs.update(
            patterns=json.dumps(patterns),
            severity=severity,
            seed=seed,
            max_confidence=max_confidence,
            counts=json.dumps(counts, sort_keys=True),
            reference_weights_sha256=file_sha256(surrogate_weights),
        )
        identity = identity_for(
            "natural_adversarial",
            output,
            image_size=int(candidates.shape[1]),
            dataset_sha256=recorded_digest(dataset),
        )
        seal_h5(h5, identity)
    print(f"kept {int(keep.sum())} of {len(keep)} corrupted pool images: {counts['kept']}")


def index_stage(*, settings: NaturalFolderSettings, dataset: Path, output: Path) -> None:
    index_natural_folder(output, dataset, Path(settings.root), settings.name)


def index_natural_folder(output: Path, dataset: Path, root: Path, name: str) -> None:
    """The file index of a class-per-folder natural adversarial set (ImageNet-A), labelled
    with the prepared dataset's class ids by folder name."""
    from robustsweep.data.sources.image_folder import class_folders, image_paths

    names = load_class_names(dataset)
    label_of = {class_name: k for k, class_name in enumerate(names)}
    folders = {folder: label_of[folder] for folder in class_folders(root) if folder in label_of}
    found = image_paths(root, folders)
    with h5py.File(dataset, "r") as prepared:
        image_size = int(prepared.attrs["image_size"])
    if not found:
        raise InputError(
            f"natural adversarial folder {root} holds no images of the study's classes; "
            "point 'natural_adversarial.root' at the set (ImageNet-A) or remove it to mine one"
        )
    from robustsweep.data.image_files import check_images

    check_images([path for path, _ in found], image_size, torch.get_num_threads())
    with atomic_path(output) as tmp, h5py.File(tmp, "w") as h5:
        h5.create_dataset("paths", data=[path for path, _ in found], dtype=h5py.string_dtype())
        sizes, mtimes = file_stats([path for path, _ in found])
        h5.create_dataset(SIZES, data=sizes)
        h5.create_dataset(MTIMES, data=mtimes)
        h5.create_dataset("label", data=np.asarray([label for _, label in found], np.int64))
        h5.create_dataset("clean_index", data=np.full(len(found), -1, np.int64))
        h5.create_dataset("pattern", data=[name] * len(found), dtype=h5py.string_dtype())
        h5.attrs.update(image_size=image_size, root=str(root))
        identity = identity_for(
            "natural_adversarial",
            output,
            image_size=image_size,
            dataset_sha256=recorded_digest(dataset),
        )
        seal_h5(h5, identity)
    print(f"indexed {len(found)} images of {len(folders)} classes from {root} as '{name}'")


def read_natural_adversarial(path: Path) -> dict[str, np.ndarray]:
    """Images, labels and patterns of a mined or indexed set (an index is decoded)."""
    with h5py.File(path, "r") as h5:
        data = {name: h5[name][()] for name in ("label", "clean_index")}
        data["pattern"] = h5["pattern"].asstr()[()]
    data["images"] = read_natural_images(path)
    return data


def read_natural_images(path: Path, rows: list[int] | None = None) -> np.ndarray:
    """The images at `rows` in that order (all when None): stored pixels, or an index's
    files decoded with the evaluation preprocessing. A few panels need not decode ImageNet-A."""
    with h5py.File(path, "r") as h5:
        if "paths" not in h5:
            images = h5["images"]
            if rows is None:
                return images[()]
            return np.stack([images[row] for row in rows]) if rows else images[:0]
        from robustsweep.data.image_files import decode_images

        paths = h5["paths"].asstr()[()].tolist()
        chosen = list(range(len(paths))) if rows is None else list(rows)
        if SIZES not in h5:
            raise FileCheckError(
                f"{path}: file index carries no image sizes and times (written by an older "
                "robustsweep); delete it and rerun the workflow to index the folder again"
            )
        sizes, mtimes = h5[SIZES][()][chosen], h5[MTIMES][()][chosen]
        chosen_paths = [paths[row] for row in chosen]
        check_unchanged(chosen_paths, sizes, mtimes, path)
        return decode_images(chosen_paths, int(h5.attrs["image_size"]))
