"""Metrics over a restricted set of predicted classes (seed 000, Algorithm 2, Table 1).

Restricting to M classes means: keep the images whose true class is among the M, keep only the
M matching logit columns, and predict by argmax over those. AUC and AP are macro averages of
one-vs-rest scores over the M classes, computed on the softmax of the M logits; precision and
recall (seed 002) are macro averages over the M classes; loss is the mean cross-entropy of the
M logits. scikit-learn scores each class.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import log_softmax, softmax
from sklearn.metrics import (
    average_precision_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

METRICS = ("accuracy", "precision", "recall", "loss", "auc", "ap")


def restrict_to_classes(
    logits: np.ndarray, labels: np.ndarray, output_classes: Sequence[int], chosen: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Images of the chosen classes, their logits over the chosen classes only, and their
    labels as positions 0..M-1 in `chosen`."""
    position = {int(c): i for i, c in enumerate(output_classes)}
    missing = [c for c in chosen if int(c) not in position]
    if missing:
        raise ValueError(f"classes {missing} are not outputs of the model")
    columns = [position[int(c)] for c in chosen]
    keep = np.isin(labels, chosen)
    lookup = {int(c): i for i, c in enumerate(chosen)}
    targets = np.asarray([lookup[int(c)] for c in labels[keep]], dtype=np.int64)
    return logits[keep][:, columns], targets


def macro_one_vs_rest(scores: np.ndarray, targets: np.ndarray) -> tuple[float, float]:
    """Macro AUC and AP over classes that have both positives and negatives.

    Classes absent from a small test subset cannot be scored; leaving them out (rather than
    failing) matches scikit-learn's multi-class OvR AUC whenever every class is present.
    """
    aucs, aps = [], []
    for cls in range(scores.shape[1]):
        positive = targets == cls
        if positive.any() and not positive.all():
            aucs.append(roc_auc_score(positive, scores[:, cls]))
            aps.append(average_precision_score(positive, scores[:, cls]))
    if not aucs:
        return float("nan"), float("nan")
    return float(np.mean(aucs)), float(np.mean(aps))


def restricted_metrics(logits: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """Accuracy (argmax over the given logits), macro precision/recall, cross-entropy, macro
    AUC and macro AP; NaN when there are no images."""
    if len(targets) == 0:
        return {"n_images": 0} | {name: float("nan") for name in METRICS}
    predictions = logits.argmax(1)
    classes = list(range(logits.shape[1]))
    auc, ap = macro_one_vs_rest(softmax(logits, axis=1), targets)
    return {
        "n_images": int(len(targets)),
        "accuracy": float(np.mean(predictions == targets)),
        "precision": float(
            precision_score(targets, predictions, labels=classes, average="macro", zero_division=0)
        ),
        "recall": float(
            recall_score(targets, predictions, labels=classes, average="macro", zero_division=0)
        ),
        "loss": float(-log_softmax(logits, axis=1)[np.arange(len(targets)), targets].mean()),
        "auc": auc,
        "ap": ap,
    }


def consistency(attacked_logits: np.ndarray, clean_logits: np.ndarray) -> float:
    """Share of images whose prediction an attack leaves unchanged (seed 003's consistent
    accuracy); both logit arrays restricted to the same classes, rows aligned."""
    if len(attacked_logits) == 0:
        return float("nan")
    return float(np.mean(attacked_logits.argmax(1) == clean_logits.argmax(1)))
