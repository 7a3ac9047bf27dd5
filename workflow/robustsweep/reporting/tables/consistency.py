"""xu2024's consistent accuracy: predictions an attack leaves unchanged."""

from __future__ import annotations

import pandas as pd

from robustsweep.reporting.metric_table import full_rows
from robustsweep.reporting.tables import TABLES, TableContext, section


def consistency_table(metrics: pd.DataFrame, pool: int) -> pd.DataFrame:
    """Consistent accuracy (%): predictions an attack leaves unchanged, per attacked test set
    (transfer `attack-*`, white-box `whitebox-*`), all-class runs, mean of draws (xu2024)."""
    rows = full_rows(metrics)
    rows = rows[(rows.n_train_classes == pool) & rows.consistency.notna()]
    if rows.empty:
        return pd.DataFrame()
    table = rows.pivot_table(index=["model", "defence"], columns="test_set", values="consistency")
    return table * 100


@TABLES.register("consistency", order=60)
def consistency(metrics: pd.DataFrame, context: TableContext) -> str:
    return section(
        "Consistent accuracy (%): predictions the attack leaves unchanged",
        consistency_table(metrics, context.pool_size),
    )
