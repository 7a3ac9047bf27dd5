"""ho2024's Table 2 columns on the clean test set: loss, accuracy, precision, recall."""

from __future__ import annotations

import pandas as pd

from robustsweep.reporting.metric_table import full_rows
from robustsweep.reporting.tables import TABLES, TableContext, section


def clean_quality_table(metrics: pd.DataFrame, pool: int) -> pd.DataFrame:
    """ho2024's Table 2 columns on the clean test set: loss, accuracy, precision, recall (%)."""
    rows = full_rows(metrics)
    rows = rows[(rows.n_train_classes == pool) & (rows.test_set == "clean")]
    table = rows.groupby(["model", "defence"])[["loss", "accuracy", "precision", "recall"]].mean()
    table[["accuracy", "precision", "recall"]] *= 100
    table.columns = ["Loss", "Acc (%)", "Precision (%)", "Recall (%)"]
    return table


@TABLES.register("clean_quality", order=40)
def clean_quality(metrics: pd.DataFrame, context: TableContext) -> str:
    return section(
        "Clean test set: loss, accuracy, precision, recall (all-class runs)",
        clean_quality_table(metrics, context.pool_size),
        4,
    )
