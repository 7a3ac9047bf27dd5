"""The tidy metric table: every run's metric rows in one CSV, and the selections every table
and figure starts from.

Paper-style tables and figures are pivots of this one table, so they never disagree.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from robustsweep.atomic_output import atomic_path

RUN_KEYS = ["model", "train_classes", "draw", "defence"]
# accuracy column of each M-sweep protocol (evaluation/run_evaluation.py) -> how tables say it
M_SWEEP_PROTOCOLS = {
    "accuracy": "M classes' images",
    "accuracy_all_images": "all images, unchosen classes wrong",
}


def collect_stage(*, metrics: list[Path], output: Path) -> None:
    collect_metrics(output, metrics)


def collect_metrics(output: Path, inputs: list[Path]) -> None:
    """Concatenate per-run metric CSVs into one tidy table in a stable row order."""
    table = pd.concat([pd.read_csv(path) for path in inputs], ignore_index=True)
    table = table.sort_values(
        RUN_KEYS + ["test_set", "pattern", "severity", "predicted_classes", "trial"]
    )
    with atomic_path(output) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6f")


def full_rows(metrics: pd.DataFrame) -> pd.DataFrame:
    """Rows evaluated over all of a run's classes (M = N), all patterns pooled."""
    return metrics[
        (metrics.predicted_classes == metrics.train_classes) & (metrics.pattern == "all")
    ]


def with_mean(table: pd.DataFrame, label: str = "Mean") -> pd.DataFrame:
    """Append the column means as a last row, as the papers print them."""
    return pd.concat([table, table.mean(numeric_only=True).to_frame(label).T])
