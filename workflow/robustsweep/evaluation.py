"""Stage 4: metrics over M predicted classes, derived from the cached logits only.

For each test set, each M and each trial, M of the run's classes are chosen (seeded, the same
choice for every model with the same class set), and Acc/AUC/AP are computed with predictions
restricted to those M logits. M equal to the run's class count is the plain evaluation on the
N chosen classes (Table 2); it has one trial, since every draw would be the same. The natural
adversarial set is also scored per pattern at M = N. Attacked test sets (transfer and
white-box) also get `consistency`: the share of images whose restricted prediction the attack
left unchanged (seed 003's consistent accuracy).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from robustsweep.atomic_output import atomic_path
from robustsweep.class_subsets import choose_trial_classes
from robustsweep.classification_metrics import (
    consistency,
    restrict_to_classes,
    restricted_metrics,
)
from robustsweep.logits_cache import TestSetLogits, read_logits


def aligned_clean_logits(data: TestSetLogits, clean: TestSetLogits | None) -> np.ndarray | None:
    """Clean logits of the same dataset rows as an attacked set, or None if not attacked."""
    if clean is None or data.index is None or data is clean:
        return None
    row = {int(i): k for k, i in enumerate(clean.index)}
    return clean.logits[[row[int(i)] for i in data.index]]


def sweep_rows(
    test_set: str,
    data: TestSetLogits,
    classes: list[int],
    m_values: list[int],
    trials: int,
    evaluation_seed: int,
    clean: TestSetLogits | None = None,
) -> list[dict]:
    """One row per (M, trial) for one test set; `clean` adds consistency to attacked sets."""
    rows = []
    clean_logits = aligned_clean_logits(data, clean)
    for m in sorted(set(m_values) | {len(classes)}):
        for trial in range(1 if m == len(classes) else trials):
            chosen = choose_trial_classes(classes, m, evaluation_seed, trial)
            logits, targets = restrict_to_classes(data.logits, data.labels, classes, chosen)
            consistent = float("nan")
            if clean_logits is not None:
                before, _ = restrict_to_classes(clean_logits, data.labels, classes, chosen)
                consistent = consistency(logits, before)
            rows.append(
                {
                    "test_set": test_set,
                    "pattern": "all",
                    "m_classes": m,
                    "trial": trial,
                    **restricted_metrics(logits, targets),
                    "consistency": consistent,
                }
            )
    return rows


def pattern_rows(data: TestSetLogits, classes: list[int]) -> list[dict]:
    """Accuracy per natural pattern over all of the run's classes."""
    rows = []
    for pattern in sorted(set(data.patterns.tolist())):
        mask = data.patterns == pattern
        logits, targets = restrict_to_classes(
            data.logits[mask], data.labels[mask], classes, classes
        )
        rows.append(
            {
                "test_set": "natural",
                "pattern": pattern,
                "m_classes": len(classes),
                "trial": 0,
                **restricted_metrics(logits, targets),
                "consistency": float("nan"),
            }
        )
    return rows


def evaluate_run(
    output: Path,
    logits_path: Path,
    run: dict,
    m_values: list[int],
    trials: int,
    evaluation_seed: int,
) -> None:
    """Write the tidy metric rows of one run, each tagged with the run's identity."""
    sets, attrs = read_logits(logits_path)
    classes = attrs["class_ids"]
    rows = []
    for name, data in sets.items():
        rows += sweep_rows(
            name, data, classes, m_values, trials, evaluation_seed, sets.get("clean")
        )
        if data.patterns is not None:
            rows += pattern_rows(data, classes)
    table = pd.DataFrame(rows)
    for key, value in reversed(list(run.items())):
        table.insert(0, key, value)
    table.insert(len(run), "parameters", attrs["parameters"])
    with atomic_path(output) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6f")
