"""Stage 2 of the design card: offline adversarial samples in HDF5 (tan2022, Fig. 3).

The surrogate is attacked once over a whole split; training and evaluation then read from
the store instead of attacking online. One file per (attack, split) keeps Snakemake's caching
fine-grained: adding an attack adds one job. The file format is store_file.py's.

Generation writes to `<output>.partial` and renames it when complete; a killed job leaves only
the partial file, and the next run resumes at the first chunk not marked done.

Attacked images are rounded to uint8 within the attack's budget and repaired where rounding
undid them (quantisation.py); each store reports how well it attacks the surrogate
(success_report.py), and a success after rounding below `attacks.min_success` of the float
success is a warning line in the job's log.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import h5py
import numpy as np
import torch
from tqdm import tqdm

from robustsweep.atomic_output import partial_path
from robustsweep.attacks.attack_batches import attack_in_parts
from robustsweep.attacks.image_storage import ImageStorage
from robustsweep.attacks.methods import ATTACK_METHODS, AttackMethod
from robustsweep.attacks.quantisation import predict, quantise_attack
from robustsweep.attacks.store_file import expected_attrs, open_partial, read_report_records
from robustsweep.attacks.success_report import (
    log_report,
    perturbation_norms,
    success_report,
    write_report,
)
from robustsweep.compute_device import configure
from robustsweep.data.prepared_dataset import load_split
from robustsweep.disk_space import require_free_space
from robustsweep.file_identity import identity_for, recorded_digest, seal_h5
from robustsweep.input_errors import StoreError
from robustsweep.models.inference import to_float
from robustsweep.models.trained_models import load_model
from robustsweep.provenance import file_sha256
from robustsweep.stage_settings import Compute, StoreSettings


def store_stage(
    *,
    settings: StoreSettings,
    compute: Compute,
    dataset: Path,
    surrogate: Path,
    output: Path,
    min_success: float | None = None,
) -> None:
    """`min_success` (attacks.min_success) only decides the log's warning, so it travels
    untracked: changing it redraws the tables, it does not rerun the attack."""
    device = configure(compute)
    report = generate_store(
        output,
        dataset,
        settings.split,
        surrogate,
        settings.attack,
        settings.spec,
        settings.batch_size,
        settings.seed,
        device,
        ImageStorage.from_section(settings.storage),
    )
    name = f"{settings.split}/{settings.attack}"
    log_report(name, report, min_success)


def generate_store(
    output: Path,
    dataset: Path,
    split: str,
    surrogate_weights: Path,
    attack: str,
    spec: dict,
    batch_size: int,
    seed: int,
    device: torch.device,
    storage: ImageStorage | None = None,
) -> dict:
    """Attack the surrogate over a whole split and store every adversarial image, kept as
    `storage` says (exact uint8 with repair by default); returns the store's success report."""
    storage = storage or ImageStorage()
    data = load_split(dataset, split)
    if len(data.labels) == 0:
        raise StoreError(
            f"the {split} split holds no images, so the store {output} would be empty; give "
            f"'dataset.splits.{split}' a larger share"
        )
    model, card = load_model(surrogate_weights, str(device))
    for p in model.parameters():
        p.requires_grad_(False)
    missing = set(np.unique(data.labels).tolist()) - set(card.class_ids)
    if missing:
        raise StoreError(
            f"surrogate {surrogate_weights} lacks classes {sorted(missing)}; "
            "the surrogate must be trained on all classes"
        )
    output_index = {c: i for i, c in enumerate(card.class_ids)}
    method = ATTACK_METHODS.build(spec)
    attacker = method.build(model, len(card.class_ids))
    n = len(data.labels)
    n_chunks = (n + batch_size - 1) // batch_size
    attrs = expected_attrs(attack, spec, split, file_sha256(surrogate_weights), seed, batch_size, n)
    attrs["storage"] = storage.describe()
    tmp = partial_path(Path(output))
    tmp.parent.mkdir(parents=True, exist_ok=True)
    if not tmp.exists():
        require_free_space(tmp, data.images.nbytes + 24 * n, f"{n} adversarial images")
    with open_partial(tmp, attrs, data.images.shape, n_chunks) as h5:
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
                    method,
                    attacker,
                    output_index,
                    card.class_ids,
                    seed,
                    chunk,
                    device,
                    storage,
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
        report = store_report(group, method, storage)
        report["variant"] = method.variant(len(card.class_ids))
        write_report(group, report)
        group.attrs["complete"] = True
        identity = identity_for(
            "store",
            output,
            image_size=int(data.images.shape[1]),
            dataset_sha256=recorded_digest(dataset),
        )
        seal_h5(h5, identity)
    os.replace(tmp, output)
    return report


def store_report(
    group: h5py.Group, method: AttackMethod, storage: ImageStorage | None = None
) -> dict:
    """The success report of a store whose every chunk is written."""
    records = read_report_records(group)
    storage = storage or ImageStorage()
    return success_report(
        records["label"],
        records["clean_pred"],
        records["float_pred"],
        records["source_pred"],
        records["repaired"],
        records["linf"],
        records["l2"],
        method.budget(),
        method.baseline,
        storage=storage.describe(),
    )


def _attack_chunk(
    group: h5py.Group,
    rows: slice,
    data,
    model,
    method: AttackMethod,
    attacker,
    output_index: dict,
    class_ids: list[int],
    seed: int,
    chunk: int,
    device: torch.device,
    storage: ImageStorage,
) -> None:
    """Attack one batch, round it to uint8 within the budget (repairing what rounding undid)
    and write it with its success records; seeded per chunk so a resumed run matches a fresh
    one."""
    torch.manual_seed(seed * 1_000_003 + chunk)
    images = to_float(data.images[rows], device)
    targets = torch.as_tensor([output_index[int(c)] for c in data.labels[rows]], device=device)
    adversarial = attack_in_parts(attacker, images, targets)
    batch = quantise_attack(model, method, images, adversarial, targets, storage.repair)
    stored = storage.stored(batch.images.cpu().numpy())
    final_pred = batch.final_pred
    if storage.format != "exact":  # JPEG: what the model makes of the decoded pixels
        final_pred = predict(model, to_float(stored, device))
    linf, l2 = perturbation_norms(data.images[rows], stored)
    ids = np.asarray(class_ids)
    group["images"][rows] = stored
    group["clean_index"][rows] = data.indices[rows]
    group["label"][rows] = data.labels[rows]
    group["source_pred"][rows] = ids[final_pred.cpu().numpy()]
    group["clean_pred"][rows] = ids[batch.clean_pred.cpu().numpy()]
    group["float_pred"][rows] = ids[batch.float_pred.cpu().numpy()]
    group["repaired"][rows] = batch.repaired.cpu().numpy()
    group["linf"][rows] = linf
    group["l2"][rows] = l2
