"""Stage 3 of the design card: train one (model, N, draw, defence) run.

The whole train split lives on the training device as uint8 (the digits and CIFAR fit), so no
DataLoader worker sits in the loop; augmentation happens there too (batch_augmentation.py).
A file-index dataset (ImageNet-N) streams instead: DataLoader workers decode and augment
(data/image_files.py). Either way an epoch is a sequence of uint8 batches (`TrainingImages`).
All randomness of epoch e comes from a generator seeded with (draw, e), so a run resumed from
its epoch checkpoint continues exactly as an uninterrupted one would. With `data_parallel: K`
the job's K processes each train on their share of the same global batches (data_parallel.py).

On a GPU the model and batches are channels-last (faster convolutions on tensor cores) and,
with `precision` auto or bf16, the forward pass runs under bf16 autocast, but only for
defences whose loss has no attack inside (`DefenceTrainer.autocast_safe`): attack gradients stay in
float32 because bf16's 8-bit mantissa changes which pixels a small-eps step moves.
"""

from __future__ import annotations

import bisect
import dataclasses
import json
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from robustsweep.atomic_output import atomic_path
from robustsweep.compute_device import configure, configure_threads
from robustsweep.data.prepared_dataset import is_file_index, load_split, load_split_files
from robustsweep.disk_space import require_free_space
from robustsweep.file_identity import recorded_digest
from robustsweep.input_errors import InputError, WeightsError
from robustsweep.models.architectures import architecture_of
from robustsweep.models.networks import build_model
from robustsweep.models.trained_models import save_model
from robustsweep.provenance import file_sha256
from robustsweep.ranks import ranks, share, sum_over_ranks
from robustsweep.stage_settings import Compute, TrainingRecipe, TrainSettings
from robustsweep.training.batch_augmentation import BatchAugmentation
from robustsweep.training.data_parallel import (
    after_checkpoint,
    average_gradients,
    broadcast_buffers,
    launch,
    unwrapped,
    wrap,
)
from robustsweep.training.defences import DEFENCES, TrainingContext
from robustsweep.training.robust_validation import (
    COLUMNS,
    ValidationImages,
    budget,
    clean_count,
    collapse_note,
    held_out_positions,
    is_better,
    mark_selected,
    robust_count,
    validate,
    validation_images,
)


def recipe(**values) -> TrainingRecipe:
    """A training recipe with the schema's defaults for what `values` leaves out (for tests
    and scripts; the workflow passes the study's whole `training` section)."""
    return TrainingRecipe.from_section(values)


Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
NONE_HELD_OUT = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class TrainingImages:
    """The run's training images: `epoch(generator)` yields (uint8 images, targets, positions
    in the train split) on the device, in an order and with augmentations drawn from the
    generator. `indices` are the split's dataset rows (stores are indexed by them). Under
    data parallelism each yield is this rank's share of a global batch of `batch_size`
    (a last batch smaller than the number of processes is left out)."""

    indices: torch.Tensor
    image_size: int
    count: int
    epoch: Callable[[torch.Generator], Iterator[Batch]]
    batch_size: int = 0


def _targets(labels: np.ndarray, class_ids: list[int]) -> np.ndarray:
    """Each label's position among the run's classes, -1 for other classes."""
    remap = {c: i for i, c in enumerate(class_ids)}
    return np.asarray([remap.get(int(c), -1) for c in labels], dtype=np.int64)


def trained_positions(labels: np.ndarray, class_ids: list[int], held_out: np.ndarray) -> np.ndarray:
    """Train-split positions of the run's classes, less those held out for validation."""
    keep = np.isin(labels, class_ids)
    keep[held_out] = False
    return np.flatnonzero(keep)


def images_on_device(
    dataset: Path,
    class_ids: list[int],
    recipe: TrainingRecipe,
    device: torch.device,
    held_out: np.ndarray = NONE_HELD_OUT,
) -> TrainingImages:
    """The whole train split on the device as uint8; augmentation there too."""
    split = load_split(dataset, "train")
    positions = torch.from_numpy(trained_positions(split.labels, class_ids, held_out))
    images = torch.from_numpy(split.images).permute(0, 3, 1, 2).contiguous().to(device)
    targets = torch.from_numpy(_targets(split.labels, class_ids)).to(device)
    augment = BatchAugmentation.of(recipe)

    def epoch(generator: torch.Generator) -> Iterator[Batch]:
        place = ranks()
        order = positions[torch.randperm(len(positions), generator=generator)]
        for start in range(0, len(order), recipe.batch_size):
            batch = order[start : start + recipe.batch_size].to(device)
            # every rank augments the whole global batch, so the generator (and the
            # augmentation of each image) is the one a single process would draw
            x = augment(images[batch], generator)
            if place.size > 1:
                if len(batch) < place.size:
                    continue
                part = share(len(batch), place)
                x, batch = x[part], batch[part]
            yield x, targets[batch], batch

    return TrainingImages(
        torch.from_numpy(split.indices), images.shape[-1], len(positions), epoch, recipe.batch_size
    )


def images_from_files(
    dataset: Path,
    class_ids: list[int],
    recipe: TrainingRecipe,
    device: torch.device,
    held_out: np.ndarray = NONE_HELD_OUT,
) -> TrainingImages:
    """A file index's train images of the run's classes, decoded and augmented by workers."""
    from robustsweep.data.image_files import training_batches

    files = load_split_files(dataset, "train")
    keep = trained_positions(files.labels, class_ids, held_out)
    paths = [files.paths[i] for i in keep]
    targets = _targets(files.labels[keep], class_ids)
    positions = torch.from_numpy(keep)

    def epoch(generator: torch.Generator) -> Iterator[Batch]:
        place = ranks()
        for x, y, rows in training_batches(
            paths,
            targets,
            files.image_size,
            recipe.augmentation,
            recipe.batch_size,
            generator,
            share=None if place.size == 1 else (place.rank, place.size),
        ):
            yield x.to(device, non_blocking=True), y.to(device), positions[rows].to(device)

    return TrainingImages(
        torch.from_numpy(files.indices), files.image_size, len(keep), epoch, recipe.batch_size
    )


def use_bf16(precision: str, device: torch.device, trainer) -> bool:
    """bf16 autocast for this run? 'auto' means yes on a GPU that supports bf16."""
    if precision == "fp32":
        return False
    # select_device has already refused CUDA where none is visible
    wanted = precision == "bf16" or (device.type == "cuda" and torch.cuda.is_bf16_supported())
    if wanted and not trainer.autocast_safe:
        if ranks().writes:
            print(
                f"precision {precision}: float32 kept, {type(trainer).__name__} attacks in its loss"
            )
        return False
    return wanted


def make_optimizer(
    parameters: list[torch.nn.Parameter], recipe: TrainingRecipe
) -> torch.optim.Optimizer:
    """One optimiser for the model and any network a defence trains beside it."""
    if recipe.optimizer == "adamw":
        return torch.optim.AdamW(parameters, lr=recipe.lr, weight_decay=recipe.weight_decay)
    return torch.optim.SGD(
        parameters,
        lr=recipe.lr,
        momentum=recipe.momentum,
        weight_decay=recipe.weight_decay,
        nesterov=recipe.nesterov,
    )


def make_scheduler(optimizer: torch.optim.Optimizer, recipe: TrainingRecipe, steps_per_epoch: int):
    """Stepped per batch, so restarts and milestones land exactly on epoch boundaries for any
    batch size. `multistep`: the lr times lr_factors[k] from epoch lr_milestones[k] on (the
    piecewise schedules of the adversarial-training papers, e.g. x0.1 at 100 and 105)."""
    if recipe.scheduler == "cosine_warm_restarts":
        return torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
            optimizer, T_0=recipe.restart_epochs * steps_per_epoch, T_mult=recipe.restart_mult
        )
    if recipe.scheduler == "multistep":
        milestones, factors = list(recipe.lr_milestones), list(recipe.lr_factors)

        def factor(step: int) -> float:
            passed = bisect.bisect_right(milestones, step // steps_per_epoch)
            return 1.0 if passed == 0 else factors[passed - 1]

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)


# Seeds of a data-parallel rank's own draws: (draw, epoch)'s seed plus rank x 2**20, far from
# any other (draw, epoch) within the 32 bits torch's CPU generator keeps of a seed (a stride
# of 2**32 or more would give every rank the same draws).
RANK_STRIDE = 1 << 20


def epoch_generator(draw: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed(draw * 1_000_003 + epoch)


def rank_seeds(draw: int, epoch: int, rank: int) -> tuple[int, int]:
    """(seed of torch's global generator, seed of the defence's own generator) of a
    data-parallel rank: the first is the one-process seed plus rank x RANK_STRIDE (rank 0's
    is the one-process seed, shared with the epoch generator as in one process), the second
    half a stride above it, so no rank's own draws repeat another rank's global ones."""
    own = draw * 1_000_003 + epoch + rank * RANK_STRIDE
    return own, own + RANK_STRIDE // 2


def load_failure(error: Exception) -> str:
    """Why torch.load failed, in a few words. torch's own message for a file holding Python
    objects advises loading it with weights_only=False, which would run whatever code the
    file carries: that advice is never repeated."""
    import pickle

    if isinstance(error, pickle.UnpicklingError):
        return "it holds Python objects besides tensors, which robustsweep never unpickles"
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error)).strip()
    first = re.split(r"(?<=\.)\s", text.splitlines()[0] if text else "", maxsplit=1)[0]
    return first.rstrip(".:") or type(error).__name__


def _load_checkpoint(path: Path, fingerprint: str):
    """Checkpoint of the same run, or None; loaded without pickle (weights_only=True).

    Checkpoints are written atomically, so a killed job never leaves a truncated one: an
    unreadable checkpoint was damaged afterwards, and the user decides whether to throw away
    the epochs it held. A readable checkpoint of another recipe is stale and is ignored.
    """
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise WeightsError(
            f"{path}: training checkpoint is truncated or corrupt ({load_failure(error)}); "
            "delete it and rerun the workflow to restart this run from epoch 0"
        ) from error
    if not isinstance(state, dict) or state.get("fingerprint") != fingerprint:
        if ranks().writes:
            print(f"ignoring checkpoint {path} of another recipe or run; starting at epoch 0")
        return None
    return state


def _save_checkpoint(
    path: Path,
    model,
    trainer,
    optimizer,
    scheduler,
    epoch: int,
    log: list,
    fingerprint: str,
    best: dict | None = None,
) -> None:
    with atomic_path(path) as tmp:
        torch.save(
            {
                "model": model.state_dict(),
                "defence": trainer.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "epoch": epoch,
                "log": log,
                "fingerprint": fingerprint,
                "best": best,
            },
            tmp,
        )


def train_stage(
    *,
    settings: TrainSettings,
    compute: Compute,
    dataset: Path,
    subset: Path,
    weights: Path,
    epoch_log: Path,
    stores: dict[str, Path] | None = None,
    clean_copy: Path | None = None,
    last_weights: Path | None = None,
) -> None:
    """Train the run (in `compute.processes` data-parallel processes), or for a pretrained
    model fetch its published weights. `last_weights` is where the last epoch's weights go:
    beside `weights`, as LAST_WEIGHTS (a pretrained model's are its published ones)."""
    last = Path(weights).with_name(LAST_WEIGHTS)
    if last_weights is not None and Path(last_weights) != last:
        raise ValueError(f"the last epoch's weights go to {last}, not {last_weights}")
    if architecture_of(settings.model).pretrained_weights:
        configure(compute)
        from robustsweep.models.pretrained_weights import export_pretrained

        export_pretrained(weights, epoch_log, dataset, subset, settings.model)
        with atomic_path(last) as tmp:
            shutil.copyfile(weights, tmp)
        return
    arguments = (
        weights,
        epoch_log,
        dataset,
        subset,
        settings.model,
        settings.recipe,
        settings.defence,
        stores or {},
        settings.draw,
    )
    extra = (clean_copy, settings.study_seed)
    if compute.processes > 1:
        configure_threads(compute.threads)
        launch(train_run, (*arguments, *extra), compute.processes, compute.device, compute.threads)
        return
    train_run(*arguments, configure(compute), *extra)


def train_run(
    weights_out: Path,
    log_out: Path,
    dataset: Path,
    subset: Path,
    model_spec: dict,
    recipe: TrainingRecipe,
    defence: dict,
    store_paths: dict[str, Path],
    draw: int,
    device: torch.device,
    clean_copy: Path | None = None,
    study_seed: int = 0,
) -> None:
    """Train one run and write its weights (safetensors: the checkpoint `recipe.checkpoint`
    selects, and beside them the last epoch's, last.safetensors) and per-epoch log (CSV).

    `model_spec` and `defence` are validated config specs; `draw` is the run's draw (it
    picked the classes and seeds the training); `clean_copy` is the weights of the run's
    `standard` twin, for defences that need one;
    `study_seed` picks the held-out validation images of `validation.split: train`.
    Called in each data-parallel worker too: only rank 0 prints and writes."""
    place = ranks()
    class_ids = json.loads(Path(subset).read_text())["class_ids"]
    checks = recipe.validation
    file_index = is_file_index(dataset)
    held_out = NONE_HELD_OUT
    if checks.split == "train" and not file_index:
        length = len(load_split(dataset, "train").labels)
        held_out = held_out_positions(length, checks.fraction, study_seed)
    read = images_from_files if file_index else images_on_device
    data = read(dataset, class_ids, recipe, device, held_out)
    if data.count == 0:
        raise InputError(
            f"the train split holds no images of the run's classes {class_ids}; give "
            "'dataset.splits.train' a larger share"
        )
    context = TrainingContext(
        device, data.indices, store_paths, clean_copy, data.image_size, BatchAugmentation.of(recipe)
    )
    torch.manual_seed(draw)
    architecture = architecture_of(model_spec)
    method = DEFENCES.build(defence)
    outputs = method.output_names  # a binary detector's ("real", "adversarial"), else None
    model = build_model(architecture, len(outputs or class_ids))
    model = model.to(device)
    trainer = method.build(context)
    validation = None
    if outputs is None and not file_index:  # a detector's outputs are not the classes
        found = validation_images(dataset, class_ids, checks, study_seed, device)
        if found is not None:
            sizes = (len(found[0]), data.count, method)
            validation = ValidationImages(
                *found, robust_count(checks, *sizes), clean_count(checks, *sizes)
            )
    check = budget(checks, method)
    # without validation images there is nothing to select by: the last epoch's weights
    selection = recipe.checkpoint if validation is not None else "last"
    if selection != recipe.checkpoint and place.writes:
        print(f"checkpoint {recipe.checkpoint}: no validation images, the last epoch is kept")
    trainer.prepare(model)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    bf16 = use_bf16(recipe.precision, device, trainer)
    steps = (data.count + recipe.batch_size - 1) // recipe.batch_size
    optimizer = make_optimizer([*model.parameters(), *trainer.parameters()], recipe)
    scheduler = make_scheduler(optimizer, recipe, steps)
    # what the epochs in a checkpoint depend on; a retrained clean copy makes them stale too
    copy_sha = file_sha256(Path(clean_copy)) if clean_copy is not None else None
    fingerprint = json.dumps(
        [model_spec, dataclasses.asdict(recipe), defence, draw, class_ids, copy_sha],
        sort_keys=True,
    )
    checkpoint = Path(weights_out).with_name("checkpoint.pt")
    # a checkpoint holds the weights and the optimiser's state (AdamW: two more copies)
    state_bytes = 4 * sum(p.numel() for p in [*model.parameters(), *trainer.parameters()])
    require_free_space(checkpoint, 4 * state_bytes, "training checkpoint and weights")
    log: list[dict] = []
    start = 0
    best: dict | None = None  # the selected epoch's log row and weights ("state")
    if (state := _load_checkpoint(checkpoint, fingerprint)) is not None:
        model.load_state_dict(state["model"])
        trainer.load_state_dict(state.get("defence", {}))
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start, log = state["epoch"] + 1, state["log"]
        best = state.get("best")
        if place.writes:
            print(f"resuming from {checkpoint} after epoch {state['epoch']}")
    elif architecture.initial_weights:
        # fine-tuning's start; a resumed run has its weights from the checkpoint, so it needs
        # no library file (an offline node can resume a run begun elsewhere)
        from robustsweep.models.pretrained_weights import load_backbone

        load_backbone(model, architecture)
    model, net = wrap(model, device)
    epochs = range(start, recipe.epochs)
    progress = tqdm(epochs, desc="training", unit="epoch", mininterval=5, disable=not place.writes)
    stopped = False
    for epoch in progress:
        # Wong et al.'s early stop keeps the weights of the epoch before the collapse
        before = _weights_copy(model) if checks.early_stop else None
        row = _train_epoch(net, trainer, optimizer, scheduler, data, draw, bf16, epoch)
        row |= _validation_row(model, validation, check, draw, epoch, recipe.batch_size)
        log.append(row)
        row["overfitting"] = (
            collapse_note(log, checks, validation.robust) if validation is not None else ""
        )
        progress.set_postfix(loss=f"{row['loss']:.4f}", accuracy=f"{row['accuracy']:.4f}")
        if row["overfitting"] and checks.early_stop:
            model.load_state_dict(before)
            stopped = True
            if place.writes:
                print(f"early stop: {row['overfitting']}; keeping epoch {epoch - 1}'s weights")
            break
        if is_better(row, best and best["row"], selection):
            # the last epoch's weights are the model's own: only a best one is copied
            keep = selection != "last"
            best = {"row": row, "state": _weights_copy(model) if keep else None}
        if place.writes:
            _save_checkpoint(
                checkpoint, model, trainer, optimizer, scheduler, epoch, log, fingerprint, best
            )
        after_checkpoint(epoch)
    if not place.writes:
        return
    card = {
        "architecture": architecture.name,
        "options": architecture.options(),
        "class_ids": class_ids,
        "extras": trainer.saved_tensors(),
        "outputs": list(outputs) if outputs else None,
    }
    # the process count is placement, not a tracked setting (docs/environment.md), but
    # on the CPU it sets BatchNorm's statistics batch: the weights say what made them
    facts = {
        "image_size": data.image_size,
        "dataset_sha256": recorded_digest(dataset),
        "data_parallel": place.size,
    }
    last_epoch = log[-1]["epoch"] - 1 if stopped else log[-1]["epoch"]
    last = Path(weights_out).with_name(LAST_WEIGHTS)
    _save_weights(last, model, card, {**facts, "checkpoint": "last", "epoch": last_epoch})
    selected = last_epoch
    if best is not None and best["state"] is not None:
        selected = best["row"]["epoch"]
        model.load_state_dict(best["state"])
    chosen = {"checkpoint": selection, "epoch": selected}
    _save_weights(Path(weights_out), model, card, {**facts, **chosen})
    rows = mark_selected(log, selected, last_epoch, selection)
    with atomic_path(log_out) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)
    checkpoint.unlink(missing_ok=True)


LAST_WEIGHTS = "last.safetensors"  # the last epoch's weights, beside the selected ones


def _weights_copy(model) -> dict:
    """A detached copy of the model's weights and buffers, on the CPU."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def _save_weights(path: Path, model, card: dict, facts: dict) -> None:
    save_model(
        path,
        model,
        card["architecture"],
        card["options"],
        card["class_ids"],
        card["extras"],
        outputs=card["outputs"],
        facts=facts,
    )


def _validation_row(model, validation, check, draw: int, epoch: int, batch_size: int) -> dict:
    """The epoch's validation columns (NaN without validation images: a detector, a file
    index, `split: none`)."""
    if validation is None:
        return {column: float("nan") for column in (*COLUMNS[:3], "val_seconds")}
    inner = unwrapped(model)
    broadcast_buffers(inner)  # every rank scores with rank 0's BatchNorm statistics
    started = time.perf_counter()
    row = validate(inner, validation, check, draw, epoch, batch_size)
    return row | {"val_seconds": time.perf_counter() - started}


def _train_epoch(
    model, trainer, optimizer, scheduler, data: TrainingImages, draw, bf16, epoch
) -> dict:
    """One pass over the run's training images in a seeded order (under data parallelism,
    `model` is the DDP-wrapped model and each rank trains on its share of every batch)."""
    place = ranks()
    model.train()
    trainer.start_epoch(epoch)
    generator = epoch_generator(draw, epoch)
    # torchattacks' random starts (online defences) draw from the global generator: seeding
    # it per epoch keeps a resumed run identical to an uninterrupted one. The defence's own
    # draws under data parallelism come from a generator of each rank, so that the shared
    # one draws each global batch's order and augmentation alike on every rank.
    global_seed, own_seed = rank_seeds(draw, epoch, place.rank)
    torch.manual_seed(global_seed)
    draws = generator if place.size == 1 else torch.Generator().manual_seed(own_seed)
    inner = unwrapped(model)
    device = next(inner.parameters()).device
    started = time.perf_counter()
    # Sums stay on the device: reading them each batch would stall a GPU once per step.
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    seen = torch.zeros((), dtype=torch.long, device=device)
    # predictions scored: the images, or more where a defence enlarges the batch
    scored = torch.zeros((), dtype=torch.long, device=device)
    steps = 0
    for images, y, batch in data.epoch(generator):
        x = images.float().div_(255.0)
        if x.is_cuda:  # gathered batches come out NCHW-contiguous; the model is channels-last
            x = x.contiguous(memory_format=torch.channels_last)
        broadcast_buffers(inner)  # attacks on `inner` see rank 0's, as DDP's forward would
        with torch.autocast(device.type, torch.bfloat16, enabled=bf16):
            loss, logits, *scored_against = trainer.loss(model, x, y, batch, draws)
        y = scored_against[0] if scored_against else y
        optimizer.zero_grad(set_to_none=True)
        if place.size > 1:
            # DDP averages the ranks' gradients; weighting each share's mean loss by its
            # size makes that the gradient of the global batch's mean loss
            length = min(data.batch_size, data.count - steps * data.batch_size)
            (loss * (len(batch) * place.size / length)).backward()
            average_gradients(trainer.parameters())
        else:
            loss.backward()
        optimizer.step()
        trainer.after_step(inner)
        scheduler.step()
        steps += 1
        total_loss += loss.detach() * len(batch)
        correct += (logits.argmax(1) == y).sum()
        seen += len(batch)
        scored += len(y)
    for _ in range(steps, -(-data.count // data.batch_size) if place.size > 1 else steps):
        scheduler.step()  # a last batch smaller than the number of processes was left out
    model.eval()
    count = data.count
    if place.size > 1:
        sums = torch.stack([total_loss.double(), correct.double(), seen.double(), scored.double()])
        total_loss, correct, seen, scored = sum_over_ranks(sums)
        count = int(seen.item())
    return {
        "epoch": epoch,
        "loss": total_loss.item() / count,
        "accuracy": correct.item() / max(int(scored.item()), 1),
        "lr": optimizer.param_groups[0]["lr"],
        "seconds": time.perf_counter() - started,
        "data_parallel": place.size,  # the processes that trained this epoch
    }
