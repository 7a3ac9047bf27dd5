"""A white-box attack in chunks: resumable, and split over K shard jobs (issue #35).

The run's own test images are attacked `batch_size` at a time. Chunk c is seeded with
(seed, c) alone, so neither which job attacks it nor whether that job was killed and resumed
changes a pixel: a run's white-box file is the same whether one job made it or K shard jobs
did, and a killed job resumes at its first unfinished chunk instead of restarting
(xu2024's AutoAttack on 10,000 CIFAR-10 images is GPU-hours per run).

A job's chunks go to a parts file, one HDF5 group `parts` holding the rows of its chunk range:
  images (m, H, W, 3) uint8, final_logits (m, K) float32, and the success report's per-image
  records clean_pred, float_pred, final_pred (int64 output positions), repaired (bool),
  linf, l2 (float64); chunk_done (chunks,) bool, set after each chunk is flushed.
  attrs: `fingerprint` (JSON: what is attacked, how and which rows; a parts file made with
  another fingerprint is started afresh), `complete` once every chunk is done.
The white-box file itself (white_box.py) is written from the parts, all in memory at once,
so an interrupted and an uninterrupted job run the same writer on the same arrays.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
import torch

from robustsweep.attacks.attack_batches import attack_in_parts
from robustsweep.attacks.quantisation import quantise_attack
from robustsweep.attacks.success_report import perturbation_norms
from robustsweep.input_errors import InputError
from robustsweep.models.inference import to_float

INT_RECORDS = ("clean_pred", "float_pred", "final_pred")
RECORDS = (*INT_RECORDS, "repaired", "linf", "l2")


def chunk_count(n: int, batch_size: int) -> int:
    return (n + batch_size - 1) // batch_size


def shard_chunks(n: int, batch_size: int, shard: int, shards: int) -> range:
    """Shard `shard` (0-based) of `shards`: a contiguous, disjoint share of the chunks (the
    first shards take one more when they do not divide evenly; a shard may be empty)."""
    if not 0 <= shard < shards:
        raise InputError(f"white-box shard {shard} is not among shards 0..{shards - 1}")
    total = chunk_count(n, batch_size)
    return range(shard * total // shards, (shard + 1) * total // shards)


def chunk_rows(chunk: int, n: int, batch_size: int) -> slice:
    return slice(chunk * batch_size, min(n, (chunk + 1) * batch_size))


def range_rows(chunks: range, n: int, batch_size: int) -> slice:
    if len(chunks) == 0:
        return slice(0, 0)
    first, last = chunk_rows(chunks[0], n, batch_size), chunk_rows(chunks[-1], n, batch_size)
    return slice(first.start, last.stop)


def chunk_seed(seed: int, chunk: int) -> int:
    """The store's per-chunk seed (adversarial_store.py): the chunk's random draws depend on
    nothing else."""
    return seed * 1_000_003 + chunk


def attack_precision_context(precision: str, device: torch.device):
    """bf16 autocast around the attack's own passes on a GPU (attacks.precision); the
    rounding, repair and every prediction stored stay float32. On the CPU: float32."""
    if precision == "bf16" and device.type == "cuda":
        return torch.autocast("cuda", torch.bfloat16)
    return contextlib.nullcontext()


def precision_note(precision: str, device: torch.device) -> None:
    """The log's note where bf16 was asked for and the job has no GPU to run it on."""
    if precision == "bf16" and device.type != "cuda":
        print(
            "evaluation.attack_precision bf16 applies on a GPU; this job runs on the "
            f"{device.type}, so its attack stays float32"
        )


@contextlib.contextmanager
def open_parts(path: Path, fingerprint: dict, shape: tuple, n_outputs: int, chunks: int):
    """A parts file made with this fingerprint (resumed), or a fresh one."""
    text = json.dumps(fingerprint, sort_keys=True)
    h5 = None
    if path.exists():
        try:
            h5 = h5py.File(path, "a")
            if h5["parts"].attrs.get("fingerprint") != text:
                h5.close()
                h5 = None
        except (OSError, KeyError):  # killed mid-write, or not a parts file
            if h5 is not None:
                with contextlib.suppress(Exception):
                    h5.close()
            h5 = None
        if h5 is None:
            path.unlink()
    if h5 is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        h5 = h5py.File(path, "w")
        group = h5.create_group("parts")
        group.create_dataset("images", shape=shape, dtype=np.uint8)
        group.create_dataset("final_logits", shape=(shape[0], n_outputs), dtype=np.float32)
        for name in INT_RECORDS:
            group.create_dataset(name, shape=(shape[0],), dtype=np.int64)
        group.create_dataset("repaired", shape=(shape[0],), dtype=bool)
        for name in ("linf", "l2"):
            group.create_dataset(name, shape=(shape[0],), dtype=np.float64)
        group.create_dataset("chunk_done", shape=(chunks,), dtype=bool)
        group.attrs["fingerprint"] = text
    try:
        yield h5
    finally:
        h5.close()


def attack_chunks(
    path: Path,
    model: torch.nn.Module,
    method,
    images: np.ndarray,
    targets: np.ndarray,
    chunks: range,
    batch_size: int,
    seed: int,
    device: torch.device,
    fingerprint: dict,
    n_outputs: int,
    precision: str = "fp32",
) -> None:
    """Attack the rows of `chunks` (of `images`, the run's whole attacked set) into the parts
    file at `path`, resuming at the first chunk not done; marks it complete at the end."""
    precision_note(precision, device)
    rows = range_rows(chunks, len(images), batch_size)
    attack = method.build(model, n_outputs) if len(chunks) else None
    shape = (rows.stop - rows.start, *images.shape[1:])
    with open_parts(path, fingerprint, shape, n_outputs, len(chunks)) as h5:
        group = h5["parts"]
        done = group["chunk_done"][()]
        if done.any() and not done.all():
            print(f"resuming {path}: {int(done.sum())} of {len(chunks)} chunks already done")
        for position, chunk in enumerate(chunks):
            if done[position]:
                continue
            _attack_chunk(
                group,
                chunk,
                rows.start,
                model,
                method,
                attack,
                images,
                targets,
                batch_size,
                seed,
                device,
                precision,
            )
            group["chunk_done"][position] = True
            h5.flush()
        group.attrs["complete"] = True


def _attack_chunk(
    group: h5py.Group,
    chunk: int,
    offset: int,
    model,
    method,
    attack,
    images: np.ndarray,
    targets: np.ndarray,
    batch_size: int,
    seed: int,
    device: torch.device,
    precision: str,
) -> None:
    """One chunk: attack, round to uint8 within the budget, write the rows and records."""
    rows = chunk_rows(chunk, len(images), batch_size)
    torch.manual_seed(chunk_seed(seed, chunk))
    x = to_float(images[rows], device)
    y = torch.as_tensor(targets[rows], device=device)
    with attack_precision_context(precision, device):
        adversarial = attack_in_parts(attack, x, y)
    batch = quantise_attack(model, method, x, adversarial.float(), y)
    local = slice(rows.start - offset, rows.stop - offset)
    stored = batch.images.cpu().numpy()
    group["images"][local] = stored
    group["final_logits"][local] = batch.final_logits.float().cpu().numpy()
    for name in (*INT_RECORDS, "repaired"):
        group[name][local] = getattr(batch, name).cpu().numpy()
    # per chunk: the float64 differences of a whole ImageNet-sized set would not fit
    linf, l2 = perturbation_norms(images[rows], stored)
    group["linf"][local] = linf
    group["l2"][local] = l2


def read_parts(paths: list[Path], fingerprints: list[dict]) -> dict[str, np.ndarray]:
    """The rows of complete parts files, in order, concatenated; a file that is incomplete or
    made for another attack, run or shard is refused naming it."""
    columns: dict[str, list[np.ndarray]] = {}
    for path, fingerprint in zip(paths, fingerprints, strict=True):
        with h5py.File(path, "r") as h5:
            group = h5["parts"]
            if group.attrs.get("fingerprint") != json.dumps(fingerprint, sort_keys=True):
                raise InputError(
                    f"{path}: white-box shard was made for another attack, run or shard "
                    "split; delete it and rerun the workflow"
                )
            if not group.attrs.get("complete", False):
                raise InputError(
                    f"{path}: white-box shard is incomplete; rerun the workflow to finish it"
                )
            for name in ("images", "final_logits", *RECORDS):
                columns.setdefault(name, []).append(group[name][()])
    return {name: np.concatenate(parts) for name, parts in columns.items()}


def iter_shards(shards: dict[str, Path] | None) -> Iterator[tuple[int, Path]]:
    """The gather job's shard inputs (named by their index) in shard order."""
    for key in sorted(shards or {}, key=int):
        yield int(key), shards[key]
