"""Accuracy per natural pattern of every all-class standard model (zhu2025, Sec. 2.1)."""

from __future__ import annotations

import pandas as pd

from robustsweep.reporting.spread import SPREAD_NOTE, spread_table
from robustsweep.reporting.tables import TABLES, TableContext, section


def pattern_rows(metrics: pd.DataFrame, pool: int) -> pd.DataFrame:
    return metrics[
        (metrics.test_set == "natural")
        & (metrics.pattern != "all")
        & (metrics.train_classes == pool)
        & (metrics.defence == "standard")
    ]


@TABLES.register("natural_patterns", order=100)
def natural_patterns(metrics: pd.DataFrame, context: TableContext) -> str:
    table = spread_table(pattern_rows(metrics, context.pool_size), "model", "pattern", "accuracy")
    return section(
        "Accuracy (%) per natural pattern", table, note=SPREAD_NOTE if not table.empty else ""
    )
