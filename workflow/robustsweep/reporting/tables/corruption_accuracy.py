"""Accuracy under corruption (xu2024's CIFAR-10-C evaluation): per corruption and severity,
and the mean corruption accuracy."""

from __future__ import annotations

import pandas as pd

from robustsweep.data.corruptions import BENCHMARK
from robustsweep.reporting.spread import MARKED_NOTE, SPREAD_NOTE, spread_table
from robustsweep.reporting.tables import TABLES, TableContext, section

KEYS = ["model", "defence"]


def corruption_rows(metrics: pd.DataFrame, pool: int) -> pd.DataFrame:
    """Per-corruption rows of the corrupted test set, all-class runs at M = N (severity NaN:
    the corruption's severities pooled)."""
    return metrics[
        (metrics.test_set == "corrupted")
        & (metrics.pattern != "all")
        & (metrics.predicted_classes == metrics.train_classes)
        & (metrics.train_classes == pool)
    ]


def mean_corruption_accuracy(rows: pd.DataFrame, names: list[str] | None = None) -> pd.DataFrame:
    """Per run: the mean accuracy over its (corruption, severity) cells (Hendrycks and
    Dietterich's mean corruption accuracy), over `names` or every corruption present."""
    cells = rows[rows.severity.notna()]
    if names is not None:
        cells = cells[cells.pattern.isin(names)]
    return cells.groupby([*KEYS, "draw"], as_index=False).accuracy.mean()


def corruption_summary(metrics: pd.DataFrame, pool: int) -> pd.DataFrame:
    """Rows (model, defence); a column per corruption (severities pooled) and the mean
    corruption accuracy (also over the 15 benchmark corruptions when the set has extras)."""
    rows = corruption_rows(metrics, pool)
    if rows.empty:
        return pd.DataFrame()
    pooled = rows[rows.severity.isna()]
    table = spread_table(pooled, KEYS, "pattern", "accuracy", mark="defence")
    present = sorted(set(pooled.pattern))
    order = [name for name in BENCHMARK if name in present]
    table = table[order + [name for name in present if name not in order]]
    means = {f"mean ({len(present)} corruptions)": None}
    if set(BENCHMARK) < set(present):
        means["mean (15 benchmark)"] = list(BENCHMARK)
    for title, names in means.items():
        per_run = mean_corruption_accuracy(rows, names).assign(column=title)
        table[title] = spread_table(per_run, KEYS, "column", "accuracy", mark="defence")[title]
    return table


def severity_table(metrics: pd.DataFrame, pool: int) -> pd.DataFrame:
    """Rows (model, defence), columns severity: accuracy averaged over the corruptions."""
    rows = corruption_rows(metrics, pool)
    cells = rows[rows.severity.notna()]
    if cells.empty:
        return pd.DataFrame()
    per_run = cells.groupby([*KEYS, "draw", "severity"], as_index=False).accuracy.mean()
    per_run["severity"] = per_run.severity.astype(int).map(lambda s: f"severity {s}")
    return spread_table(per_run, KEYS, "severity", "accuracy", mark="defence")


def corruption_grid(metrics: pd.DataFrame, pool: int) -> pd.DataFrame:
    """Rows (model, defence, corruption), columns severity: every cell of the benchmark."""
    rows = corruption_rows(metrics, pool)
    cells = rows[rows.severity.notna()].copy()
    if cells.empty:
        return pd.DataFrame()
    cells["severity"] = cells.severity.astype(int).map(lambda s: f"severity {s}")
    return spread_table(cells, [*KEYS, "pattern"], "severity", "accuracy")


@TABLES.register("corruption_accuracy", order=105)
def corruption_accuracy(metrics: pd.DataFrame, context: TableContext) -> str:
    summary = corruption_summary(metrics, context.pool_size)
    note = MARKED_NOTE if not summary.empty else ""
    return "\n".join(
        [
            section(
                "Corruption accuracy (%) per corruption, severities pooled, and mean "
                "corruption accuracy",
                summary,
                note=note,
            ),
            section(
                "Corruption accuracy (%) per severity, mean over the corruptions",
                severity_table(metrics, context.pool_size),
                note=note,
            ),
            section(
                "Corruption accuracy (%) per corruption and severity",
                corruption_grid(metrics, context.pool_size),
                note=SPREAD_NOTE if not summary.empty else "",
            ),
        ]
    )
