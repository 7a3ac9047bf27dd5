"""Metrics over a restricted set of predicted classes (seed 000, Algorithm 2, Table 1).

Restricting to M classes means: keep the images whose true class is among the M, keep only the
M matching logit columns, and predict by argmax over those. AUC and AP are macro averages of
one-vs-rest scores over the M classes, computed on the softmax of the M logits; scikit-learn
scores each class.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import softmax
from sklearn.metrics import average_precision_score, roc_auc_score


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
    """Accuracy (argmax over the given logits), macro AUC and macro AP; NaN when empty."""
    if len(targets) == 0:
        return {"n_images": 0, "accuracy": float("nan"), "auc": float("nan"), "ap": float("nan")}
    accuracy = float(np.mean(logits.argmax(1) == targets))
    auc, ap = macro_one_vs_rest(softmax(logits, axis=1), targets)
    return {"n_images": int(len(targets)), "accuracy": accuracy, "auc": auc, "ap": ap}
