"""Seeded choice of N classes from the class pool (zhu2025, Algorithm 1 step a).

The choice depends only on (study seed, N, draw), so the same config always picks the
same classes, on any machine and in any job order.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from robustsweep.atomic_output import write_json
from robustsweep.file_identity import identity_for, recorded_digest, sealed_json
from robustsweep.stage_settings import SubsetSettings


def choose_classes(pool: Sequence[int], n: int, study_seed: int, draw: int) -> list[int]:
    """Pick n distinct classes from pool; sorted, so label remapping is stable.

    n equal to the pool size returns the whole pool (the all-class model of every draw).
    """
    pool = sorted(int(c) for c in pool)
    if not 1 <= n <= len(pool):
        raise ValueError(f"N={n} must be between 1 and the class pool size {len(pool)}")
    if n == len(pool):
        return pool
    rng = np.random.default_rng([study_seed, n, draw])
    return sorted(int(c) for c in rng.choice(pool, size=n, replace=False))


def choose_trial_classes(
    classes: Sequence[int], m: int, evaluation_seed: int, trial: int
) -> list[int]:
    """Pick m of a model's classes for one trial of the predicted-class sweep (Algorithm 2).

    The generator is keyed by (seed, m, trial) only, so every model with the same class set
    is tested on the same ImageNet-A-M-style subset in a given trial, as the paper does.
    """
    classes = sorted(int(c) for c in classes)
    if m == len(classes):
        return classes
    rng = np.random.default_rng([evaluation_seed, m, trial])
    return sorted(int(c) for c in rng.choice(classes, size=m, replace=False))


def subset_stage(*, settings: SubsetSettings, dataset: Path, output: Path) -> None:
    from robustsweep.data.prepared_dataset import load_class_names

    names = load_class_names(dataset)
    write_subset(
        output,
        range(len(names)),
        names,
        settings.n,
        settings.study_seed,
        settings.draw,
        recorded_digest(dataset),
    )


def write_subset(
    output: Path,
    pool: Sequence[int],
    class_names: Sequence[str],
    n: int,
    study_seed: int,
    draw: int,
    dataset_sha256: str | None = None,
) -> None:
    """Save the choice as JSON: the class ids, their names, how they were chosen, and the
    seal (file_identity.py) naming the prepared dataset they index."""
    chosen = choose_classes(pool, n, study_seed, draw)
    payload = {
        "n": n,
        "study_seed": study_seed,
        "draw": draw,
        "class_ids": chosen,
        "class_names": [class_names[c] for c in chosen],
    }
    identity = identity_for("subset", output, dataset_sha256=dataset_sha256)
    write_json(output, sealed_json(payload, identity))
