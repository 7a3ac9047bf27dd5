"""Stage 2 of the design card: offline adversarial samples in HDF5 (seed 001, Fig. 3).

A source model is attacked once over a whole split; training and evaluation then read from
the store instead of attacking online. One file per (attack, split) keeps Snakemake's caching
fine-grained: adding an attack adds one job.

Layout, one group named after the attack:
  images       (n, H, W, 3) uint8, contiguous (n * H * W * 3 bytes on disk, no padding)
  clean_index  (n,) int64   row of the clean image in the prepared dataset's /images
  label        (n,) int64   true class id
  source_pred  (n,) int64   source model's class id for the stored (quantised) image
  chunk_done   (n_chunks,) bool, set after each chunk is flushed (resume point)
  attrs: method, params (JSON), split, source_weights_sha256, versions (JSON), seed,
         batch_size, and `complete`, written last.

Generation writes to `<output>.partial` and renames it when complete; a killed job leaves only
the partial file, and the next run resumes at the first chunk not marked done.
"""

from __future__ import annotations

import errno
import json
import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch
from tqdm import tqdm

from robustsweep.atomic_output import partial_path
from robustsweep.attack_registry import attack_parameters, build_attack
from robustsweep.input_errors import StoreError
from robustsweep.prepared_dataset import load_split
from robustsweep.provenance import file_sha256, package_versions
from robustsweep.trained_models import load_model


@dataclass(frozen=True)
class StoredSamples:
    """A whole store group in memory."""

    attack: str
    images: np.ndarray
    clean_index: np.ndarray
    label: np.ndarray
    source_pred: np.ndarray
    attrs: dict


def quantize(images: torch.Tensor) -> torch.Tensor:
    """[0, 1] floats (N, C, H, W) to uint8 (N, H, W, C), rounding to the nearest level."""
    return (images.clamp(0, 1) * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1)


def to_float(images: np.ndarray | torch.Tensor, device: torch.device | str) -> torch.Tensor:
    """uint8 (N, H, W, C) to contiguous [0, 1] floats (N, C, H, W) on `device`.

    Contiguous because some torchattacks attacks (PGDL2) `.view` their inputs.
    """
    tensor = torch.as_tensor(images).to(device)
    return tensor.permute(0, 3, 1, 2).contiguous().float().div_(255.0)


def _expected_attrs(
    attack: str, spec: dict, split: str, source_sha: str, seed: int, batch_size: int, n: int
) -> dict:
    return {
        "attack": attack,
        "method": spec["method"],
        "params": json.dumps(attack_parameters(spec), sort_keys=True),
        "split": split,
        "source_weights_sha256": source_sha,
        "seed": seed,
        "batch_size": batch_size,
        "n": n,
    }


def _open_partial(path: Path, attrs: dict, shape: tuple[int, ...], n_chunks: int) -> h5py.File:
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
    group.attrs.update(attrs)
    group.attrs["versions"] = json.dumps(package_versions(), sort_keys=True)
    return h5


def generate_store(
    output: Path,
    dataset: Path,
    split: str,
    source_weights: Path,
    attack: str,
    spec: dict,
    batch_size: int,
    seed: int,
    device: torch.device,
) -> None:
    """Attack the source model over a whole split and store every adversarial image."""
    data = load_split(dataset, split)
    model, card = load_model(source_weights, str(device))
    for p in model.parameters():
        p.requires_grad_(False)
    missing = set(np.unique(data.labels).tolist()) - set(card.class_ids)
    if missing:
        raise StoreError(
            f"source model {source_weights} lacks classes {sorted(missing)}; "
            "the attack source must be trained on all classes"
        )
    output_index = {c: i for i, c in enumerate(card.class_ids)}
    attacker = build_attack(model, spec, len(card.class_ids))
    n = len(data.labels)
    n_chunks = (n + batch_size - 1) // batch_size
    attrs = _expected_attrs(attack, spec, split, file_sha256(source_weights), seed, batch_size, n)
    tmp = partial_path(Path(output))
    tmp.parent.mkdir(parents=True, exist_ok=True)
    with _open_partial(tmp, attrs, data.images.shape, n_chunks) as h5:
        group = h5[attack]
        done = group["chunk_done"][()]
        todo = [c for c in range(n_chunks) if not done[c]]
        if done.any():
            print(
                f"resuming {tmp} at chunk {todo[0] if todo else n_chunks}: "
                f"{int(done.sum())} of {n_chunks} chunks already done"
            )
        for chunk in tqdm(todo, desc=f"{attack}/{split}", unit="batch", mininterval=5):
            rows = slice(chunk * batch_size, min(n, (chunk + 1) * batch_size))
            try:
                _attack_chunk(
                    group,
                    rows,
                    data,
                    model,
                    attacker,
                    output_index,
                    card.class_ids,
                    seed,
                    chunk,
                    device,
                )
                group["chunk_done"][chunk] = True
                h5.flush()
            except OSError as error:
                if error.errno != errno.ENOSPC and "No space left" not in str(error):
                    raise
                raise StoreError(
                    f"disk full while writing {tmp} (chunk {chunk} of {n_chunks}); free space "
                    "and rerun: generation resumes at the first unfinished chunk"
                ) from error
        group.attrs["complete"] = True
    os.replace(tmp, output)


def attack_in_parts(attacker, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Run the attack on the batch, halving it while the device runs out of memory.

    Lets `attacks.batch_size` be set for the largest GPU a study runs on: a smaller one
    attacks each chunk in parts instead of failing (the chunk layout on disk is unchanged).
    """
    try:
        return attacker(images, targets).detach()
    except torch.cuda.OutOfMemoryError:
        if len(images) == 1:
            raise
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        half = len(images) // 2
        print(f"out of device memory attacking {len(images)} images; retrying in halves")
        return torch.cat(
            [
                attack_in_parts(attacker, images[:half], targets[:half]),
                attack_in_parts(attacker, images[half:], targets[half:]),
            ]
        )


def _attack_chunk(
    group: h5py.Group,
    rows: slice,
    data,
    model,
    attacker,
    output_index: dict,
    class_ids: list[int],
    seed: int,
    chunk: int,
    device: torch.device,
) -> None:
    """Attack one batch and write it; seeded per chunk so a resumed run matches a fresh one."""
    torch.manual_seed(seed * 1_000_003 + chunk)
    images = to_float(data.images[rows], device)
    targets = torch.as_tensor([output_index[int(c)] for c in data.labels[rows]], device=device)
    adversarial = quantize(attack_in_parts(attacker, images, targets))
    with torch.no_grad():
        pred = model(to_float(adversarial, device)).argmax(1).cpu().numpy()
    group["images"][rows] = adversarial.cpu().numpy()
    group["clean_index"][rows] = data.indices[rows]
    group["label"][rows] = data.labels[rows]
    group["source_pred"][rows] = np.asarray(class_ids)[pred]


def read_store(path: Path) -> StoredSamples:
    """Load a completed store; a truncated or half-written file raises StoreError naming it."""
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
