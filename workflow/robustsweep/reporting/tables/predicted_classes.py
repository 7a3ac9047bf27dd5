"""zhu2025's Tables 3-5: natural-adversarial accuracy against the number of predicted classes M."""

from __future__ import annotations

import pandas as pd

from robustsweep.reporting.metric_table import with_mean
from robustsweep.reporting.spread import spread_rows
from robustsweep.reporting.tables import TABLES, TableContext, section


def trial_table(metrics: pd.DataFrame, model: str, pool: int) -> pd.DataFrame:
    """Natural-adversarial accuracy (%) per (draw, trial) (rows) and M (columns)."""
    rows = metrics[
        (metrics.model == model)
        & (metrics.n_train_classes == pool)
        & (metrics.defence == "standard")
        & (metrics.test_set == "natural")
        & (metrics.pattern == "all")
    ]
    table = rows.pivot_table(index=["draw", "trial"], columns="m_classes", values="accuracy") * 100
    table.index = [f"draw {draw} trial {trial + 1}" for draw, trial in table.index]
    return table


def predicted_class_table(metrics: pd.DataFrame, model: str, pool: int) -> pd.DataFrame:
    """Tables 3-5: natural-adversarial accuracy (%) per trial (rows) and M (columns)."""
    return with_mean(trial_table(metrics, model, pool))


@TABLES.register("predicted_classes", order=30)
def predicted_classes(metrics: pd.DataFrame, context: TableContext) -> str:
    parts = []
    for model in sorted(metrics.model.unique()):
        trials = trial_table(metrics, model, context.pool_size)
        if trials.shape[1] > 1:
            title = f"Tables 3-5: {model}, accuracy (%) vs predicted classes M"
            note = "Mean, SD and 95 % CI (t-distribution) are over every draw and trial.\n"
            parts.append(section(title, spread_rows(trials), note=note))
    return "\n".join(parts)
