"""What a run's metrics rows say about its checkpoint and its robust validation.

Read from the run's epochs.csv (training/robust_validation.py writes its validation columns):
which checkpoint the evaluated weights are (`checkpoint`, `checkpoint_epoch`), the validation
clean and PGD accuracy of the best-robust epoch beside the last epoch's (the best-vs-last
columns robust-overfitting papers print, whichever checkpoint the run keeps), any
overfitting flag, and the per-epoch validation curve
the study's validation figure draws (JSON, one [epoch, clean, PGD, FGSM] per epoch).
"""

from __future__ import annotations

import json
import math

import pandas as pd

NAN = float("nan")
# the metrics columns this adds, with their value for a run without epochs (pretrained)
EMPTY = {
    "checkpoint": "last",
    "checkpoint_epoch": NAN,
    "best_epoch": NAN,
    "val_accuracy_best": NAN,
    "val_pgd_best": NAN,
    "val_accuracy_last": NAN,
    "val_pgd_last": NAN,
    "overfitting": "",
    "validation_curve": "[]",
}
CURVE = ("epoch", "val_accuracy", "val_pgd_accuracy", "val_fgsm_accuracy")


def _number(value) -> float | None:
    """A JSON-ready float (None for NaN: JSON has no NaN)."""
    value = float(value)
    return None if math.isnan(value) else round(value, 6)


def _row_marked(log: pd.DataFrame, column: str) -> pd.Series:
    """The epoch row `column` marks (the last row where the log has no such mark)."""
    if column in log:
        marked = log[log[column].astype(bool)]
        if not marked.empty:
            return marked.iloc[-1]
    return log.iloc[-1]


def _first_flag(notes: list[str]) -> str:
    """The first flagged epoch's note and how many epochs after it were flagged too: a
    collapse stays flagged epoch after epoch, and one line per run keeps the table readable
    (epochs.csv has every epoch's note)."""
    if not notes:
        return ""
    later = len(notes) - 1
    return notes[0] + (f" (and {later} later epoch{'s' * (later > 1)})" if later else "")


def checkpoint_summary(log: pd.DataFrame) -> dict:
    """The checkpoint and validation columns of a run's metrics rows, from its epoch log."""
    if log.empty or "val_accuracy" not in log:
        return dict(EMPTY)
    chosen = _row_marked(log, "selected")
    last = _row_marked(log, "last_weights")
    # the first epoch of the highest validation PGD accuracy (the last row where none has one)
    robust = log["val_pgd_accuracy"]
    best = log.loc[robust.idxmax()] if robust.notna().any() else last
    flagged = log["overfitting"].astype(object).fillna("") if "overfitting" in log else []
    notes = [str(note) for note in flagged if note]
    curve = [[int(row.epoch), *(_number(row[c]) for c in CURVE[1:])] for _, row in log.iterrows()]
    return {
        "checkpoint": str(chosen["checkpoint"]) if "checkpoint" in log else "last",
        "checkpoint_epoch": int(chosen["epoch"]),
        "best_epoch": int(best["epoch"]),
        "val_accuracy_best": float(best["val_accuracy"]),
        "val_pgd_best": float(best["val_pgd_accuracy"]),
        "val_accuracy_last": float(last["val_accuracy"]),
        "val_pgd_last": float(last["val_pgd_accuracy"]),
        "overfitting": _first_flag(notes),
        "validation_curve": json.dumps(curve),
    }
