"""tan2022's Table 3: detector accuracy of detector-head runs."""

from __future__ import annotations

import pandas as pd

from robustsweep.reporting.metric_table import full_rows
from robustsweep.reporting.spread import SPREAD_NOTE, spread_table
from robustsweep.reporting.tables import TABLES, TableContext, section


def detector_rows(metrics: pd.DataFrame, pool: int) -> pd.DataFrame:
    rows = full_rows(metrics)
    return rows[(rows.train_classes == pool) & rows.detector_accuracy.notna()]


@TABLES.register("detector_accuracy", order=80)
def detector_accuracy(metrics: pd.DataFrame, context: TableContext) -> str:
    rows = detector_rows(metrics, context.pool_size)
    table = spread_table(rows, ["model", "defence"], "test_set", "detector_accuracy")
    return section(
        "Detector accuracy (%) of detector-head runs (tan2022, Table 3)",
        table,
        note=SPREAD_NOTE if not table.empty else "",
    )
