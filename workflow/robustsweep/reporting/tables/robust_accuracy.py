"""Robust accuracy per test set and defence: transfer and white-box."""

from __future__ import annotations

import pandas as pd

from robustsweep.reporting.metric_table import full_rows
from robustsweep.reporting.tables import TABLES, TableContext, section


def robustness_table(metrics: pd.DataFrame, pool: int) -> pd.DataFrame:
    """Accuracy (%) per test set for each (model, defence), all-class runs, mean of draws."""
    rows = full_rows(metrics)
    rows = rows[rows.n_train_classes == pool]
    return rows.pivot_table(index=["model", "defence"], columns="test_set", values="accuracy") * 100


@TABLES.register("robust_accuracy", order=50)
def robust_accuracy(metrics: pd.DataFrame, context: TableContext) -> str:
    return section(
        "Robust accuracy (%) per test set and defence",
        robustness_table(metrics, context.pool_size),
        note="`attack-*`: transfer from the store's source model; `whitebox-*`: attacked "
        "directly.\n",
    )
