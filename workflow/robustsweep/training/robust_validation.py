"""Robust validation after every epoch, the checkpoint it selects, and the overfitting flag.

What every adversarial-training paper since Rice et al. (2020) and Wong et al. (2020) does
while training: score held-out images clean, under PGD-k and under FGSM after each epoch,
keep the weights of the best epoch beside the last ones, and notice when FGSM training
collapses (PGD accuracy falls to near zero while FGSM accuracy holds: catastrophic
overfitting) or PGD accuracy slides away from its best (robust overfitting).

The held-out images are the dataset's pool split (held out of training already; for CIFAR
it is carved from the official training set, e.g. tan2022's 5,000 of 50,000) or a seeded
share of the train split that training then leaves out. The attacks are torchattacks' PGD
(random start) and FGSM, run with the model in eval mode; their random draws come from a
generator seeded per epoch, so a resumed run validates exactly as an uninterrupted one. The
robust check attacks at most `robust_images` of them, fewer where the epoch is cheap, so that
it costs at most `robust_cost` of the epoch's training passes; the clean check likewise
scores as many as `clean_cost` allows (all of them, unless the epoch is cheap).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from robustsweep.ranks import ranks, share, sum_over_ranks
from robustsweep.stage_settings import ValidationSettings

# columns each epoch's row of epochs.csv gains
COLUMNS = ("val_accuracy", "val_pgd_accuracy", "val_fgsm_accuracy", "overfitting")
CRITERIA = {"best_robust": "val_pgd_accuracy", "best_clean": "val_accuracy"}
SEED_OFFSET = 30_000_000  # keeps validation draws apart from the training epochs' seeds


def held_out_positions(length: int, fraction: float, seed: int) -> np.ndarray:
    """The train-split positions `split: train` holds out: a seeded `fraction` of them,
    the same for every run of a study (sorted)."""
    count = int(round(fraction * length))
    order = np.random.default_rng([seed, 30]).permutation(length)
    return np.sort(order[:count])


@dataclass(frozen=True)
class ValidationImages:
    """The run's validation images (uint8 NCHW on the device) in a seeded order, their
    targets among the run's classes, and how many of the first ones the attacks score and
    how many are scored clean."""

    images: torch.Tensor
    targets: torch.Tensor
    robust: int
    clean: int


@dataclass(frozen=True)
class Budget:
    eps: float
    alpha: float
    steps: int


def budget(settings: ValidationSettings, defence) -> Budget:
    """The check's PGD budget: the study's `eps`, else the defence's own, else fallback_eps;
    the step eps/4 unless given."""
    eps = settings.eps
    if eps is None:
        eps = getattr(defence, "eps", None) or settings.fallback_eps
    alpha = settings.alpha if settings.alpha is not None else eps / 4
    return Budget(float(eps), float(alpha), settings.steps)


def training_passes(defence) -> int:
    """Forward-backward passes a training image costs under `defence` (an estimate from its
    parameters: one plus its attack steps; FGSM-type defences without `steps` take one)."""
    steps = getattr(defence, "steps", None)
    if steps is None:
        steps = 1 if hasattr(defence, "eps") else 0
    return 1 + int(steps)


def robust_count(settings: ValidationSettings, available: int, train_count: int, defence) -> int:
    """Images the robust check attacks each epoch: at most robust_images and the validation
    images, and few enough that PGD-k plus FGSM (k + 2 passes each) stay within robust_cost
    of the epoch's training passes, but at least one, so every epoch of a validated run has
    robust numbers (a cheap epoch's check then costs its one image's passes, more than its
    share; the overfitting flag ignores falls that so few images explain: `chance_drop`)."""
    affordable = settings.robust_cost * train_count * training_passes(defence)
    per_image = settings.steps + 2
    within = max(1, math.floor(affordable / per_image))
    return int(min(settings.robust_images, available, within))


def clean_count(settings: ValidationSettings, available: int, train_count: int, defence) -> int:
    """Images scored clean each epoch: all the validation images, or as many as keep their
    forward passes (a third of a forward-backward pass each) within clean_cost of the
    epoch's training passes, and never fewer than the robust ones."""
    affordable = settings.clean_cost * train_count * training_passes(defence) * 3
    robust = robust_count(settings, available, train_count, defence)
    return int(max(robust, min(available, math.floor(affordable))))


def validation_images(
    dataset: Path,
    class_ids: list[int],
    settings: ValidationSettings,
    seed: int,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The validation images of the run's classes (uint8 NCHW on the device) and their targets,
    in a seeded order; None with `split: none` or no such image."""
    from robustsweep.data.prepared_dataset import load_split

    if settings.split == "none":
        return None
    split = load_split(dataset, "pool" if settings.split == "pool" else "train")
    rows = np.arange(len(split.labels))
    if settings.split == "train":
        rows = held_out_positions(len(split.labels), settings.fraction, seed)
    rows = rows[np.isin(split.labels[rows], class_ids)]
    if len(rows) == 0:
        return None
    rows = rows[np.random.default_rng([seed, 31]).permutation(len(rows))]
    remap = {c: i for i, c in enumerate(class_ids)}
    targets = torch.tensor([remap[int(c)] for c in split.labels[rows]], dtype=torch.long)
    images = torch.from_numpy(split.images[rows]).permute(0, 3, 1, 2).contiguous()
    return images.to(device), targets.to(device)


def validate(
    model: torch.nn.Module,
    data: ValidationImages,
    check: Budget,
    draw: int,
    epoch: int,
    batch_size: int,
) -> dict:
    """Clean accuracy over the first `data.clean` validation images, PGD-k and FGSM accuracy
    over the first `data.robust` of them, with `model` in eval mode (under data parallelism
    each process scores its share and the counts are summed)."""
    import torchattacks

    place = ranks()
    device = data.images.device
    part = share(data.clean, place) if place.size > 1 else slice(None)
    images, targets = data.images[: data.clean][part], data.targets[: data.clean][part]
    robust = share(data.robust, place) if place.size > 1 else slice(0, data.robust)
    was_training = model.training
    model.eval()
    correct = torch.zeros(3, dtype=torch.float64, device=device)
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            x = images[start : start + batch_size].float().div_(255.0)
            y = targets[start : start + batch_size]
            correct[0] += (model(x).argmax(1) == y).sum()
    # torchattacks draws PGD's random start from the global generator: a forked one, seeded
    # per epoch, leaves the training's draws as they were
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(draw * 1_000_003 + epoch + SEED_OFFSET)
        pgd = torchattacks.PGD(model, eps=check.eps, alpha=check.alpha, steps=check.steps)
        fgsm = torchattacks.FGSM(model, eps=check.eps)
        x_all = data.images[robust].float().div_(255.0)
        y_all = data.targets[robust]
        for start in range(0, len(x_all), batch_size):
            x, y = x_all[start : start + batch_size], y_all[start : start + batch_size]
            for slot, attack in ((1, pgd), (2, fgsm)):
                adversarial = attack(x, y)  # torchattacks sets eval mode and restores it
                with torch.no_grad():
                    correct[slot] += (model(adversarial).argmax(1) == y).sum()
    model.train(was_training)
    if place.size > 1:
        correct = sum_over_ranks(correct)
    clean, pgd_correct, fgsm_correct = correct.tolist()
    robust_total = max(data.robust, 1)
    nan = float("nan")
    return {
        "val_accuracy": clean / max(data.clean, 1),
        "val_pgd_accuracy": pgd_correct / robust_total if data.robust else nan,
        "val_fgsm_accuracy": fgsm_correct / robust_total if data.robust else nan,
    }


def chance_drop(images: int) -> float:
    """The largest fall of an accuracy over `images` images that chance explains: three
    standard errors of the difference of two accuracies, each at its most variable (p = 1/2,
    standard error 0.5 / sqrt(n)). 0.21 over 100 images, 0.07 over 1,000; over 4 images
    (the default study's standard runs) no fall is beyond chance."""
    return 3 * math.sqrt(2 * 0.25 / images) if images > 0 else math.inf


def collapse_note(log: list[dict], settings: ValidationSettings, images: int) -> str:
    """Why the last epoch of `log` is flagged for overfitting, or "": its validation PGD
    accuracy (over `images` images) is below collapse_fraction of the best of the epochs
    before it, at least collapse_min_drop below it and further below it than chance explains
    (`chance_drop`), while its FGSM accuracy is at or above collapse_fraction of FGSM's best
    so far (catastrophic overfitting: the PGD collapse FGSM does not see)."""
    if len(log) < 2:
        return ""
    before = [row for row in log[:-1] if not math.isnan(row.get("val_pgd_accuracy", math.nan))]
    now = log[-1]
    pgd, fgsm = now.get("val_pgd_accuracy", math.nan), now.get("val_fgsm_accuracy", math.nan)
    if not before or math.isnan(pgd):
        return ""
    best_pgd = max(row["val_pgd_accuracy"] for row in before)
    best_fgsm = max(row["val_fgsm_accuracy"] for row in before)
    fraction = settings.collapse_fraction
    drop = best_pgd - pgd
    collapsed = (
        pgd < fraction * best_pgd
        and drop >= settings.collapse_min_drop
        and drop > chance_drop(images)
    )
    if collapsed and fgsm >= fraction * best_fgsm:
        return (
            f"epoch {now['epoch']}: validation PGD accuracy {pgd:.3f} < {fraction:g} x its "
            f"best {best_pgd:.3f} while FGSM holds at {fgsm:.3f}"
        )
    return ""


def is_better(row: dict, best: dict | None, checkpoint: str) -> bool:
    """Does epoch `row` replace `best` as the selected checkpoint? The first epoch of the best
    score wins (Rice et al. keep a later epoch only if it is strictly better)."""
    if checkpoint == "last" or best is None:
        return True
    column = CRITERIA[checkpoint]
    score, held = row.get(column, math.nan), best.get(column, math.nan)
    if math.isnan(score):
        return False
    return math.isnan(held) or score > held


def mark_selected(
    log: list[dict], selected_epoch: int, last_epoch: int, checkpoint: str
) -> list[dict]:
    """The log with `selected` true on the epoch whose weights weights.safetensors holds,
    `last_weights` on the one last.safetensors holds (the epoch before an early stop's
    flagged one) and `checkpoint` naming the selection."""
    return [
        {
            **row,
            "selected": row["epoch"] == selected_epoch,
            "last_weights": row["epoch"] == last_epoch,
            "checkpoint": checkpoint,
        }
        for row in log
    ]
