"""Metrics over a restricted set of predicted classes (zhu2025, Algorithm 2, Table 1).

Restricting to M classes means: keep the images whose true class is among the M, keep only the
M matching logit columns, and predict by argmax over those. AUC and AP are macro averages of
one-vs-rest scores over the M classes, computed on the softmax of the M logits; precision and
recall (ho2024) are macro averages over the M classes; loss is the mean cross-entropy of the
M logits. Scores are computed in float64 from the (float32) logits, and AUC and AP rank the
images by the log of the softmax, which orders them exactly as the softmax does but does not
saturate: in float32 every probability above 1 - 6e-8 is exactly 1.0 (a logit margin of 17),
in float64 above 1 - 1e-16 (a margin of 37), so confident images tie and AP moves (by 1.6e-4
on the default study's natural sets). Ties then come only from equal logits.

The sweep scores up to 200 classes for each of 30 (M, trial) pairs of every test set, where
scikit-learn's per-class `roc_auc_score`/`average_precision_score` calls cost more than the
forward pass that made the logits. So the macro scores are computed here for all classes at
once, by the same definitions (AUC as the rank statistic with ties averaged; AP as
sum over distinct thresholds of recall gain times precision; precision/recall with
zero_division=0), and tests check them against scikit-learn to 1e-10. The average ranks
AUC needs are computed here too rather than by scipy.stats.rankdata: importing scipy.stats
costs an evaluate job about 2 s, more than all its metrics (tests check the ranks against
rankdata).

A binary real-vs-adversarial detector (ho2024's other reading) is scored by `binary_metrics`:
accuracy, and precision TP/(TP+FP) and recall TP/(TP+FN) of the positive class "adversarial"
(the paper's Eqs. 4-6), not macro averages.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import log_softmax

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
    order = np.argsort(chosen)
    targets = order[np.searchsorted(np.asarray(chosen)[order], labels[keep])].astype(np.int64)
    return logits[keep][:, columns], targets


def macro_one_vs_rest(scores: np.ndarray, targets: np.ndarray) -> tuple[float, float]:
    """Macro AUC and AP over classes that have both positives and negatives.

    Classes absent from a small test subset cannot be scored; leaving them out (rather than
    failing) matches scikit-learn's multi-class OvR AUC whenever every class is present.
    """
    positive = targets[:, None] == np.arange(scores.shape[1])
    n_pos = positive.sum(0)
    scored = (n_pos > 0) & (n_pos < len(targets))
    if not scored.any():
        return float("nan"), float("nan")
    scores, positive, n_pos = scores[:, scored], positive[:, scored], n_pos[scored]
    return float(_auc(scores, positive, n_pos).mean()), float(_ap(scores, positive, n_pos).mean())


def _auc(scores: np.ndarray, positive: np.ndarray, n_pos: np.ndarray) -> np.ndarray:
    """Per-column ROC AUC: the Mann-Whitney statistic, ties counted half (as the ROC curve's
    trapezoids do)."""
    n_neg = len(scores) - n_pos
    rank_sum = (average_ranks(scores) * positive).sum(0)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def average_ranks(scores: np.ndarray) -> np.ndarray:
    """Ranks 1..n of each column of `scores` (n, k), equal scores given the mean of their
    ranks: scipy.stats.rankdata(scores, axis=0), method "average"."""
    n = len(scores)
    order = np.argsort(scores, axis=0, kind="stable")
    ranked = np.take_along_axis(scores, order, 0)
    first = np.ones(ranked.shape, dtype=bool)  # first row of each group of equal scores
    first[1:] = ranked[1:] != ranked[:-1]
    last = np.ones(ranked.shape, dtype=bool)
    last[:-1] = first[1:]
    rows = np.arange(n)[:, None]
    start = np.maximum.accumulate(np.where(first, rows, 0), axis=0)
    end = np.minimum.accumulate(np.where(last, rows, n - 1)[::-1], axis=0)[::-1]
    ranks = np.empty(ranked.shape, dtype=np.float64)
    np.put_along_axis(ranks, order, (start + end) / 2 + 1, 0)
    return ranks


def _ap(scores: np.ndarray, positive: np.ndarray, n_pos: np.ndarray) -> np.ndarray:
    """Per-column average precision: at each distinct score (highest first), the recall
    gained times the precision there."""
    order = np.argsort(-scores, axis=0, kind="stable")
    ranked = np.take_along_axis(scores, order, 0)
    true_pos = np.cumsum(np.take_along_axis(positive, order, 0), axis=0)
    threshold = np.ones(ranked.shape, dtype=bool)  # last row of each group of equal scores
    threshold[:-1] = ranked[:-1] != ranked[1:]
    at_threshold = np.where(threshold, true_pos, 0)
    before = np.zeros_like(true_pos)
    before[1:] = np.maximum.accumulate(at_threshold, axis=0)[:-1]
    gained = np.where(threshold, true_pos - before, 0)
    precision = true_pos / np.arange(1, len(scores) + 1)[:, None]
    return (gained * precision).sum(0) / n_pos


def macro_precision_recall(
    predictions: np.ndarray, targets: np.ndarray, n_classes: int
) -> tuple[float, float]:
    """Macro precision and recall over all n_classes; a class never predicted (or never
    present) counts 0, as scikit-learn's zero_division=0 does."""
    hits = np.bincount(targets[predictions == targets], minlength=n_classes)
    predicted = np.bincount(predictions, minlength=n_classes)
    present = np.bincount(targets, minlength=n_classes)
    precision = np.divide(hits, predicted, out=np.zeros(n_classes), where=predicted > 0)
    recall = np.divide(hits, present, out=np.zeros(n_classes), where=present > 0)
    return float(precision.mean()), float(recall.mean())


def restricted_metrics(logits: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """Accuracy (argmax over the given logits), macro precision/recall, cross-entropy, macro
    AUC and macro AP; NaN when there are no images."""
    if len(targets) == 0:
        return {"n_images": 0} | {name: float("nan") for name in METRICS}
    logits = np.asarray(logits, dtype=np.float64)
    predictions = logits.argmax(1)
    auc, ap = macro_one_vs_rest(log_softmax(logits, axis=1), targets)
    precision, recall = macro_precision_recall(predictions, targets, logits.shape[1])
    return {
        "n_images": int(len(targets)),
        "accuracy": float(np.mean(predictions == targets)),
        "precision": precision,
        "recall": recall,
        "loss": float(-log_softmax(logits, axis=1)[np.arange(len(targets)), targets].mean()),
        "auc": auc,
        "ap": ap,
    }


def consistency(attacked_logits: np.ndarray, clean_logits: np.ndarray) -> float:
    """Share of images whose prediction an attack leaves unchanged (xu2024's consistent
    accuracy); both logit arrays restricted to the same classes, rows aligned."""
    if len(attacked_logits) == 0:
        return float("nan")
    return float(np.mean(attacked_logits.argmax(1) == clean_logits.argmax(1)))


def binary_metrics(logits: np.ndarray, adversarial: np.ndarray) -> dict[str, float]:
    """A two-output detector's scores (output 1: adversarial) against the truth: accuracy,
    precision and recall of the adversarial class (NaN where undefined: nothing called
    adversarial, or no adversarial image, as on the clean test set, where 0 would read as a
    detector that fails; scikit-learn's zero_division=np.nan), the
    mean cross-entropy, and AUC/AP of the adversarial log-probability (NaN with one class
    only); NaN when there are no images."""
    if len(adversarial) == 0:
        return {"n_images": 0} | {name: float("nan") for name in METRICS}
    logits = np.asarray(logits, dtype=np.float64)
    truth = np.asarray(adversarial, dtype=bool)
    predicted = logits.argmax(1) == 1
    true_pos = int((predicted & truth).sum())
    log_p = log_softmax(logits, axis=1)
    n_pos = int(truth.sum())
    auc = ap = float("nan")
    if 0 < n_pos < len(truth):
        score, positive, count = log_p[:, 1:], truth[:, None], np.asarray([n_pos])
        auc, ap = float(_auc(score, positive, count)[0]), float(_ap(score, positive, count)[0])
    return {
        "n_images": int(len(truth)),
        "accuracy": float(np.mean(predicted == truth)),
        "precision": true_pos / int(predicted.sum()) if predicted.any() else float("nan"),
        "recall": true_pos / n_pos if n_pos else float("nan"),
        "loss": float(-log_p[np.arange(len(truth)), truth.astype(np.int64)].mean()),
        "auc": auc,
        "ap": ap,
    }
