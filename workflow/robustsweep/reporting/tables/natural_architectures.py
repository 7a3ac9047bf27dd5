"""zhu2025's Table 1: Acc, AUC and AP on the natural adversarial set per all-class model."""

from __future__ import annotations

import pandas as pd

from robustsweep.reporting.metric_table import full_rows
from robustsweep.reporting.spread import SPREAD_NOTE, spread_table
from robustsweep.reporting.tables import TABLES, TableContext, section

METRICS = {"accuracy": "Acc", "auc": "AUC", "ap": "AP"}


def architecture_rows(metrics: pd.DataFrame, pool: int) -> pd.DataFrame:
    rows = full_rows(metrics)
    return rows[(rows.n_train_classes == pool) & (rows.defence == "standard")]


def parameter_millions(rows: pd.DataFrame) -> pd.Series:
    millions = rows.groupby("model").parameters.first() / 1e6
    return millions.map(lambda value: f"{value:.2f} M")


def architecture_spread_table(metrics: pd.DataFrame, pool: int) -> pd.DataFrame:
    """Table 1 with the spread over draws of every metric (fractions, 4 digits)."""
    rows = architecture_rows(metrics, pool)
    natural = rows[rows.test_set == "natural"]
    if natural.empty:
        return pd.DataFrame()
    long = natural.melt(["model", "draw"], list(METRICS), "metric", "value")
    clean = rows[rows.test_set == "clean"].assign(metric="Clean acc", value=lambda r: r.accuracy)
    long = pd.concat([clean[["model", "draw", "metric", "value"]], long])
    long["metric"] = long.metric.replace(METRICS)
    table = spread_table(long, "model", "metric", "value", scale=1, digits=4, bounds=(0.0, 1.0))
    table = table[[c for c in ["Clean acc", *METRICS.values()] if c in table]]
    table.insert(0, "Parameters", parameter_millions(rows))
    return table


@TABLES.register("natural_architectures", order=10)
def natural_architectures(metrics: pd.DataFrame, context: TableContext) -> str:
    table = architecture_spread_table(metrics, context.pool_size)
    return section(
        "Table 1: natural adversarial set, all-class models (Acc, AUC, AP)",
        table,
        4,
        note=SPREAD_NOTE if not table.empty else "",
    )
