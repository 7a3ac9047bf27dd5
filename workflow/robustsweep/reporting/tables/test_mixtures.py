"""ho2024's Tables 3-5: accuracy on test mixtures with a few % adversarial images."""

from __future__ import annotations

import pandas as pd

from robustsweep.reporting.tables import TABLES, TableContext, section


def hybrid_table(metrics: pd.DataFrame, pool: int) -> pd.DataFrame:
    """ho2024's Tables 3-5: accuracy (%) on test mixtures with a few % adversarial images,
    on the whole mixture and on its real and adversarial parts, per (model, defence),
    all-class runs, mean of draws."""
    rows = metrics[
        metrics.test_set.str.startswith("hybrid-")
        & (metrics.m_classes == metrics.n_train_classes)
        & (metrics.n_train_classes == pool)
    ]
    if rows.empty:
        return pd.DataFrame()
    table = rows.pivot_table(
        index=["model", "defence"], columns=["test_set", "pattern"], values="accuracy"
    )
    table.columns = [f"{mixture} {part}" for mixture, part in table.columns]
    return table * 100


@TABLES.register("test_mixtures", order=70)
def test_mixtures(metrics: pd.DataFrame, context: TableContext) -> str:
    return section(
        "Test mixtures (%): accuracy with a few % adversarial images (ho2024, Tables 3-5)",
        hybrid_table(metrics, context.pool_size),
    )
