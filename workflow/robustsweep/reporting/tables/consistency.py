"""xu2024's consistent accuracy: predictions an attack leaves unchanged."""

from __future__ import annotations

import pandas as pd

from robustsweep.reporting.metric_table import full_rows
from robustsweep.reporting.spread import MARKED_NOTE, spread_table
from robustsweep.reporting.tables import TABLES, TableContext, section
from robustsweep.set_names import ATTACKED_PREFIXES, WORST_PREFIX


def consistency_rows(metrics: pd.DataFrame, pool: int) -> pd.DataFrame:
    """Attacked test sets (transfer `attack-*`, white-box `white_box-*`, per-image worst case
    `worst-*`) of all-class runs."""
    rows = full_rows(metrics)
    return rows[
        (rows.train_classes == pool)
        & rows.consistency.notna()
        & rows.test_set.str.startswith((*ATTACKED_PREFIXES, WORST_PREFIX))
    ]


@TABLES.register("consistency", order=60)
def consistency(metrics: pd.DataFrame, context: TableContext) -> str:
    rows = consistency_rows(metrics, context.pool_size)
    table = spread_table(rows, ["model", "defence"], "test_set", "consistency", mark="defence")
    return section(
        "Consistent accuracy (%): predictions the attack leaves unchanged",
        table,
        note=MARKED_NOTE if not table.empty else "",
    )
