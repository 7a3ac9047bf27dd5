"""Robust accuracy per test set and defence, transfer and white-box, as tan2022 (Table 4) and
xu2024 report it."""

from __future__ import annotations

import pandas as pd

from robustsweep.evaluation.evaluated_sets import N_WAY_TRANSFER
from robustsweep.reporting.attack_table import variant_headers
from robustsweep.reporting.metric_table import full_rows
from robustsweep.reporting.spread import MARKED_NOTE, spread_table
from robustsweep.reporting.tables import TABLES, TableContext, section


def robustness_rows(metrics: pd.DataFrame, pool: int) -> pd.DataFrame:
    """One row per (run, test set): all-class runs at M = N, all patterns pooled. A white-box
    row is one whose attack was made on the classifier scored: never the N-way head's images
    scored at M < N (`white_box_head` n_way_transfer: transfer from another classifier)."""
    rows = full_rows(metrics)
    if "white_box_head" in rows:
        rows = rows[rows.white_box_head.ne(N_WAY_TRANSFER)]
    return rows[(rows.train_classes == pool) & ~rows.test_set.eq("corrupted")]


@TABLES.register("robust_accuracy", order=50)
def robust_accuracy(metrics: pd.DataFrame, context: TableContext) -> str:
    rows = robustness_rows(metrics, context.pool_size)
    table = spread_table(rows, ["model", "defence"], "test_set", "accuracy", mark="defence")
    return section(
        "Robust accuracy (%) per test set and defence",
        table.rename(columns=variant_headers(context.attacks)),
        note="`attack-*`: transfer from the store's surrogate; `white_box-*`: attacked "
        "directly; `worst-*`: right under every attack of the group, per image (the run's "
        "white-box attacks, the stored ones, all of them). " + MARKED_NOTE,
    )
