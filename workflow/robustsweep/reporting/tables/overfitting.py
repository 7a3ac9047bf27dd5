"""Runs whose robust validation collapsed during training: catastrophic overfitting (Wong et al.
2020, arXiv:2001.03994) or robust overfitting (Rice et al. 2020, arXiv:2002.11569)."""

from __future__ import annotations

import pandas as pd

from robustsweep.reporting.metric_table import RUN_KEYS
from robustsweep.reporting.tables import TABLES, TableContext, section


def overfitting_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """Every run with an epoch flagged by the overfitting check, with the flagged epochs."""
    if "overfitting" not in metrics:
        return pd.DataFrame()
    keys = [*RUN_KEYS, "checkpoint", "checkpoint_epoch", "overfitting"]
    runs = metrics[keys].drop_duplicates(RUN_KEYS)
    flagged = runs[runs.overfitting.astype(object).fillna("") != ""]
    return flagged.set_index(RUN_KEYS).astype({"checkpoint_epoch": int})


@TABLES.register("overfitting", order=91)
def overfitting(metrics: pd.DataFrame, context: TableContext) -> str:
    return section(
        "Overfitting checks",
        overfitting_table(metrics),
        note="Runs whose validation PGD accuracy fell below `collapse_fraction` of its best "
        "(and at least `collapse_min_drop` below it) while FGSM accuracy held: FGSM training's "
        "catastrophic overfitting, or robust overfitting past the best epoch. Their last "
        "weights are not robust; `training.checkpoint: best_robust` or "
        "`training.validation.early_stop` keep an epoch before the collapse.\n",
        empty="no run's validation PGD accuracy collapsed",
    )
