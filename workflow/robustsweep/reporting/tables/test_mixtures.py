"""ho2024's Tables 3-5: accuracy on test mixtures with a few % adversarial images."""

from __future__ import annotations

import pandas as pd

from robustsweep.reporting.spread import MARKED_NOTE, spread_table
from robustsweep.reporting.tables import TABLES, TableContext, section
from robustsweep.set_names import HYBRID_PREFIX


def hybrid_rows(metrics: pd.DataFrame, pool: int) -> pd.DataFrame:
    """Rows of the hybrid mixtures (whole, real part, adversarial part), all-class runs."""
    return metrics[
        metrics.test_set.str.startswith(HYBRID_PREFIX)
        & (metrics.predicted_classes == metrics.train_classes)
        & (metrics.train_classes == pool)
    ]


@TABLES.register("test_mixtures", order=70)
def test_mixtures(metrics: pd.DataFrame, context: TableContext) -> str:
    rows = hybrid_rows(metrics, context.pool_size)
    table = spread_table(
        rows, ["model", "defence"], ["test_set", "pattern"], "accuracy", mark="defence"
    )
    if not table.empty:
        table.columns = [f"{mixture} {part}" for mixture, part in table.columns]
    return section(
        "Test mixtures (%): accuracy with a few % adversarial images (ho2024, Tables 3-5)",
        table,
        note=MARKED_NOTE if not table.empty else "",
    )
