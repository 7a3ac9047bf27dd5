"""Robust accuracy over a list of budgets: the curve that must fall to 0 as eps grows.

Carlini et al.'s evaluation checklist (and xu2024's own code, which sweeps eps from eps_min to
eps_max) asks for it: a fixed-eps number can hide gradient masking that a large enough budget
exposes, since an unbounded attack must always succeed. Per run, one white-box attack
(`evaluation.budget_sweep.attack`, a bounded method under attacks.methods) is run once per
budget on the clean test images of the run's classes, as white-box sets are (rounded to uint8,
white_box.white_box_images); eps 0 is the cached clean logits, so it costs no pass, and
where the run's white-box set of the same attack exists, its budget is a point of the curve
too (list the other budgets only: that one is already paid for). A step
size (`alpha`) scales with the budget (alpha x eps / the attack's own eps), so every budget
gets the same number of steps across its ball.

Layout of `budget_sweep.h5`: one group `eps-<k>` per budget (in the listed order) with the
model's logits on the attacked images, label, index; attrs eps and spec; root attrs: attack
and the seal (file_identity.py). run_evaluation.py scores each budget as metric rows of test
set `budget-<attack>` with `pattern` "eps <eps>" and the budget in `severity` (pooled-row
selections, pattern "all", leave them out of the robust-accuracy tables), and `budget_flag`
adds a masking flag when accuracy at the largest budget stays above
`evaluation.budget_sweep.max_accuracy`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import h5py
import numpy as np

from robustsweep.atomic_output import atomic_path
from robustsweep.evaluation.logits_file import TestSetLogits, _read_group
from robustsweep.stage_settings import BudgetSweepSettings, Compute

if TYPE_CHECKING:
    import torch


def budget_spec(spec: dict, eps: float) -> dict:
    """The attack spec at budget `eps`, its step size scaled in proportion."""
    scaled = {**spec, "eps": float(eps)}
    if "alpha" in spec:
        scaled["alpha"] = spec["alpha"] * float(eps) / spec["eps"]
    return scaled


def sweep_logits(
    model: torch.nn.Module,
    class_ids: list[int],
    images: np.ndarray,
    labels: np.ndarray,
    spec: dict,
    budgets: list[float],
    batch_size: int,
    seed: int,
    device: torch.device,
) -> dict[float, np.ndarray]:
    """The model's logits on its white-box attacked images at each budget."""
    from robustsweep.evaluation.white_box import white_box_images

    return {
        float(eps): white_box_images(
            model, class_ids, images, labels, budget_spec(spec, eps), batch_size, seed, device
        )[1]
        for eps in budgets
    }


def budget_sweep_stage(
    *,
    settings: BudgetSweepSettings,
    compute: Compute,
    weights: Path,
    dataset: Path,
    output: Path,
) -> None:
    from robustsweep.compute_device import configure
    from robustsweep.data.prepared_dataset import load_split
    from robustsweep.file_identity import identity_for, recorded_digest, seal_h5
    from robustsweep.models.trained_models import load_model

    device = configure(compute)
    model, card = load_model(weights, str(device))
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    clean = load_split(dataset, "test")
    own = np.isin(clean.labels, card.class_ids)
    logits = sweep_logits(
        model,
        card.class_ids,
        clean.images[own],
        clean.labels[own],
        settings.spec,
        settings.eps,
        settings.batch_size,
        settings.seed,
        device,
    )
    with atomic_path(output) as tmp, h5py.File(tmp, "w") as h5:
        for k, (eps, values) in enumerate(logits.items()):
            group = h5.create_group(f"eps-{k}")
            group.create_dataset("logits", data=values)
            group.create_dataset("label", data=clean.labels[own])
            group.create_dataset("index", data=clean.indices[own])
            group.attrs["eps"] = eps
            group.attrs["spec"] = json.dumps(budget_spec(settings.spec, eps), sort_keys=True)
        h5.attrs["attack"] = settings.attack
        identity = identity_for(
            "budget_sweep",
            output,
            dataset_sha256=recorded_digest(dataset),
            weights_sha256=recorded_digest(weights),
        )
        seal_h5(h5, identity)
    for eps, values in logits.items():
        labels = np.asarray(card.class_ids)[values.argmax(1)] if len(values) else values
        print(f"budget {eps:g}: accuracy {np.mean(labels == clean.labels[own]):.1%}")


def read_budget_sweep(path: Path) -> tuple[str, dict[float, TestSetLogits]]:
    """The swept attack's name and each budget's logits, in budget order."""
    with h5py.File(path, "r") as h5:
        sets = {float(group.attrs["eps"]): _read_group(group) for group in h5.values()}
        attack = str(h5.attrs["attack"])
    return attack, dict(sorted(sets.items()))


def budget_flag(accuracy: dict[float, float], max_accuracy: float, attack: str) -> list[str]:
    """A masking flag when accuracy at the largest budget stays above `max_accuracy`."""
    if not accuracy:
        return []
    largest = max(accuracy)
    if accuracy[largest] <= max_accuracy:
        return []
    return [
        f"budget sweep: {attack} leaves {accuracy[largest]:.1%} accuracy at eps {largest:g} "
        f"(above {max_accuracy:.1%}; robust accuracy must fall to 0 as the budget grows)"
    ]
