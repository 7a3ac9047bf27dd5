"""ho2024's Table 2: training results beside the model's quality on a test set.

The paper's columns: Epochs, L, "Acc in Training", "Acc of Models", Precision, Recall. L next
to ~95 % test accuracy (0.004) can only be a training loss: a held-out cross-entropy is at
least ln 2 times the error rate. So Epochs, L and Acc in Training come from each run's
per-epoch log (its last epoch's loss and accuracy on what it trained on) and the rest from the
test set, macro precision and recall as ours are everywhere, with the test cross-entropy
beside them. ho2024's test split is half real, half adversarial (5k + 5k): a study's named
mixture (`evaluation.mixtures`, test set `mix-<name>`) with fraction 0.5 is that split, so one
section per mixture is printed first, then the same columns on the clean test set.
"""

from __future__ import annotations

import pandas as pd

from robustsweep.reporting.metric_table import full_rows
from robustsweep.reporting.spread import MARKED_NOTE, spread_table
from robustsweep.reporting.tables import TABLES, TableContext, section
from robustsweep.set_names import MIXTURE_PREFIX

# column -> (metric column, scale, digits)
COLUMNS = {
    "L": ("train_loss", 1, 4),
    "Acc in Training (%)": ("train_accuracy", 100, 2),
    "Acc of Models (%)": ("accuracy", 100, 2),
    "Precision (%)": ("precision", 100, 2),
    "Recall (%)": ("recall", 100, 2),
    "Test loss": ("loss", 1, 4),
}


def quality_rows(metrics: pd.DataFrame, pool: int, test_set: str) -> pd.DataFrame:
    """One row per all-class run on `test_set` at M = N."""
    rows = full_rows(metrics)
    return rows[(rows.train_classes == pool) & (rows.test_set == test_set)]


def table_2_test_sets(metrics: pd.DataFrame) -> list[str]:
    """The named mixtures first (ho2024's half-real, half-adversarial split), then clean."""
    mixtures = sorted(name for name in set(metrics.test_set) if name.startswith(MIXTURE_PREFIX))
    return [*mixtures, "clean"]


def epochs_text(values: pd.Series) -> str:
    """Epochs are a recipe setting, not a measurement: the value, or the range over draws."""
    low, high = int(values.min()), int(values.max())
    return str(low) if low == high else f"{low}-{high}"


def table_2(metrics: pd.DataFrame, pool: int, test_set: str) -> pd.DataFrame:
    """Table 2 as printed: each cell mean ± sd [95 % CI] over draws."""
    rows = quality_rows(metrics, pool, test_set)
    if rows.empty:
        return pd.DataFrame()
    keys = ["model", "defence"]
    parts = [rows.groupby(keys).epochs.agg(epochs_text).rename("Epochs")]
    for title, (column, scale, digits) in COLUMNS.items():
        tidy = rows.assign(column=title)
        mark = "defence" if scale == 100 else None
        parts.append(spread_table(tidy, keys, "column", column, scale, digits, mark)[title])
    return pd.concat(parts, axis=1)


@TABLES.register("clean_quality", order=40)
def clean_quality(metrics: pd.DataFrame, context: TableContext) -> str:
    sections = []
    for test_set in table_2_test_sets(metrics):
        table = table_2(metrics, context.pool_size, test_set)
        sections.append(
            section(
                f"Table 2 (ho2024): training results, accuracy, precision, recall on {test_set}",
                table,
                note="Epochs, L (the last epoch's training loss) and Acc in Training come from "
                "the run's per-epoch log; the other columns from the test set (macro precision "
                "and recall; for a `detector` run binary, adversarial the positive class). "
                + MARKED_NOTE
                if not table.empty
                else "",
            )
        )
    return "\n".join(sections)
