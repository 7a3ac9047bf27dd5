"""zhu2025's Table 1: Acc, AUC and AP on the natural adversarial set per all-class model."""

from __future__ import annotations

import pandas as pd

from robustsweep.reporting.metric_table import full_rows
from robustsweep.reporting.tables import TABLES, TableContext, section


def architecture_table(metrics: pd.DataFrame, pool: int) -> pd.DataFrame:
    """Table 1: Acc/AUC/AP on the natural adversarial set per all-class model (mean of draws)."""
    rows = full_rows(metrics)
    rows = rows[(rows.n_train_classes == pool) & (rows.defence == "standard")]
    natural = rows[rows.test_set == "natural"].groupby("model")[["accuracy", "auc", "ap"]].mean()
    natural.columns = ["Acc", "AUC", "AP"]
    natural.insert(0, "Clean acc", rows[rows.test_set == "clean"].groupby("model").accuracy.mean())
    millions = rows.groupby("model").parameters.first() / 1e6
    natural.insert(0, "Parameters", millions.map(lambda value: f"{value:.2f} M"))
    return natural


@TABLES.register("natural_architectures", order=10)
def natural_architectures(metrics: pd.DataFrame, context: TableContext) -> str:
    return section(
        "Table 1: natural adversarial set, all-class models (Acc, AUC, AP)",
        architecture_table(metrics, context.pool_size),
        4,
    )
