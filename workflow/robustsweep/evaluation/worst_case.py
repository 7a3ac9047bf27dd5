"""The worst case over several attacks, per image: what AutoAttack reports for its ensemble.

A model is robust on an image only if every attack of a group fails on it, so a group's robust
accuracy is the share of images the model gets right under all of them (the per-image minimum
over the attacks), never above any one attack's. Consistency likewise: an image counts as
consistent only if no attack of the group changed its prediction. Three groups per run:
`worst-white_box` (the run's white-box attacks), `worst-store` (the stored attacks, transfer
from the surrogate) and `worst-all` (both); a group is formed when it has two sets or more
(`worst-all` when the run has both kinds). Every set already holds per-image logits (the
logits cache and the white-box files), so the worst case costs no forward pass; it is scored
on the images every set of the group holds (aligned by dataset row), for every M and trial
as the single sets are. AUC, AP, precision, recall and loss have no per-image worst case and
are left empty.

`per_image_table` writes the per-image record behind these numbers (image row, label, and
whether the run is right on it clean and under each attack and group, at M = N), for users
who compute their own ensemble (ART's "metrics throw away per-sample results").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from robustsweep.data.class_subsets import choose_trial_classes
from robustsweep.evaluation.classification_metrics import METRICS
from robustsweep.evaluation.logits_file import TestSetLogits
from robustsweep.set_names import (
    TRANSFER_PREFIX,
    WHITE_BOX_PREFIX,
    WORST_ALL,
    WORST_STORE,
    WORST_WHITE_BOX,
)


def worst_case_groups(names: Sequence[str]) -> dict[str, list[str]]:
    """The worst-case groups of a run's test sets: group name -> its attacked sets."""
    white_box = sorted(n for n in names if n.startswith(WHITE_BOX_PREFIX))
    stored = sorted(n for n in names if n.startswith(TRANSFER_PREFIX))
    groups = {}
    if len(white_box) >= 2:
        groups[WORST_WHITE_BOX] = white_box
    if len(stored) >= 2:
        groups[WORST_STORE] = stored
    if white_box and stored:
        groups[WORST_ALL] = white_box + stored
    return groups


def shared_images(members: list[TestSetLogits], clean: TestSetLogits) -> np.ndarray:
    """Dataset rows held by the clean set and every member, in the clean set's order."""
    rows = clean.index
    for data in members:
        rows = rows[np.isin(rows, data.index)]
    return rows


def predictions(
    data: TestSetLogits, rows: np.ndarray, classes: Sequence[int], chosen: Sequence[int]
) -> np.ndarray:
    """The class id `data` predicts for each dataset row in `rows`, argmax over the `chosen`
    classes' logits only (as restrict_to_classes does for a single set)."""
    position = {int(i): k for k, i in enumerate(data.index)}
    column = {int(c): k for k, c in enumerate(classes)}
    logits = data.logits[[position[int(r)] for r in rows]][:, [column[int(c)] for c in chosen]]
    return np.asarray(chosen)[logits.argmax(1)] if len(rows) else np.zeros(0, np.int64)


def correct_under_all(
    members: list[TestSetLogits], rows: np.ndarray, labels: np.ndarray, classes, chosen
) -> np.ndarray:
    """Per image: right under every member (the per-image minimum of their correctness)."""
    right = np.ones(len(rows), bool)
    for data in members:
        right &= predictions(data, rows, classes, chosen) == labels
    return right


def unchanged_under_all(
    members: list[TestSetLogits], clean: TestSetLogits, rows: np.ndarray, classes, chosen
) -> np.ndarray:
    """Per image: no member changed the clean prediction."""
    before = predictions(clean, rows, classes, chosen)
    same = np.ones(len(rows), bool)
    for data in members:
        same &= predictions(data, rows, classes, chosen) == before
    return same


def worst_case_rows(
    name: str,
    members: list[TestSetLogits],
    clean: TestSetLogits,
    classes: list[int],
    predicted_classes: list[int],
    trials: int,
    evaluation_seed: int,
) -> list[dict]:
    """One row per (M, trial), as run_evaluation.sweep_rows writes for a single set:
    accuracy over the chosen classes' images, accuracy over all the shared images of the
    run's classes (unchosen classes wrong), consistency."""
    rows = shared_images(members, clean)
    position = {int(i): k for k, i in enumerate(clean.index)}
    labels = clean.labels[[position[int(r)] for r in rows]]
    own = np.isin(labels, classes)
    rows, labels = rows[own], labels[own]
    out = []
    for m in sorted(set(predicted_classes) | {len(classes)}):
        for trial in range(1 if m == len(classes) else trials):
            chosen = choose_trial_classes(classes, m, evaluation_seed, trial)
            keep = np.isin(labels, chosen)
            right = correct_under_all(members, rows[keep], labels[keep], classes, chosen)
            same = unchanged_under_all(members, clean, rows[keep], classes, chosen)
            n = int(keep.sum())
            accuracy = float(right.mean()) if n else float("nan")
            out.append(
                {
                    "test_set": name,
                    "pattern": "all",
                    "severity": float("nan"),
                    "predicted_classes": m,
                    "trial": trial,
                    **{metric: float("nan") for metric in METRICS},
                    "accuracy": accuracy,
                    "n_images": n,
                    "accuracy_all_images": float(right.sum()) / len(rows) if len(rows) else np.nan,
                    "consistency": float(same.mean()) if n else float("nan"),
                    "detector_accuracy": float("nan"),
                }
            )
    return out


def per_image_table(sets: dict[str, TestSetLogits], classes: list[int]) -> pd.DataFrame:
    """One row per clean test image of the run's classes: its dataset row, label, and 1/0
    for right or wrong at M = N clean, under each attacked set (empty where a set does not
    hold the image) and under each worst-case group (empty where a member lacks it)."""
    clean = sets["clean"]
    own = np.isin(clean.labels, classes)
    rows, labels = clean.index[own], clean.labels[own]
    table = pd.DataFrame({"index": rows, "label": labels})
    table["clean"] = (predictions(clean, rows, classes, classes) == labels).astype(int)
    attacked = sorted(n for n in sets if n.startswith((WHITE_BOX_PREFIX, TRANSFER_PREFIX)))
    for name in attacked:
        data = sets[name]
        held = np.isin(rows, data.index)
        column = pd.Series(pd.NA, index=table.index, dtype="Int64")
        right = predictions(data, rows[held], classes, classes) == labels[held]
        column[held] = right.astype(int)
        table[name] = column
    for group, names in worst_case_groups(attacked).items():
        columns = table[names]
        worst = columns.min(axis=1).astype("Int64")
        worst[columns.isna().any(axis=1)] = pd.NA
        table[group] = worst
    return table
