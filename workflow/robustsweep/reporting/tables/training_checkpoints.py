"""Which checkpoint each run's numbers score, and its robust validation, best beside last
(early stopping on robust validation: Rice et al. 2020, arXiv:2002.11569)."""

from __future__ import annotations

import pandas as pd

from robustsweep.reporting.metric_table import RUN_KEYS
from robustsweep.reporting.tables import TABLES, TableContext, section
from robustsweep.results_layout import EPOCH_LOG, LAST_WEIGHTS, WEIGHTS

COLUMNS = {
    "checkpoint": "checkpoint",
    "checkpoint_epoch": "its epoch",
    "best_epoch": "best epoch",
    "val_accuracy_best": "best: val clean (%)",
    "val_pgd_best": "best: val PGD (%)",
    "val_accuracy_last": "last: val clean (%)",
    "val_pgd_last": "last: val PGD (%)",
}


def checkpoint_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per trained run with validation: the checkpoint its metrics score (and its
    epoch), and the validation clean and PGD accuracy of the best-robust epoch beside the
    last epoch's."""
    if "val_accuracy_selected" not in metrics:
        return pd.DataFrame()
    runs = metrics[[*RUN_KEYS, *COLUMNS]].drop_duplicates(RUN_KEYS)
    runs = runs[runs.val_accuracy_last.notna()]
    table = runs.set_index(RUN_KEYS).rename(columns=COLUMNS)
    percent = [name for name in table.columns if name.endswith("(%)")]
    table[percent] = table[percent] * 100
    table = table.astype({"its epoch": int, "best epoch": int})
    return table


@TABLES.register("training_checkpoints", order=52)
def training_checkpoints(metrics: pd.DataFrame, context: TableContext) -> str:
    return section(
        "Checkpoints and robust validation",
        checkpoint_table(metrics),
        1,
        note="The weights every other table scores are the run's `training.checkpoint` "
        "(last, or the epoch of the best validation PGD or clean accuracy), at 'its epoch'. "
        "Beside them, the validation accuracy of the best-robust epoch and of the last one "
        "(best vs last, as the robust-overfitting papers print them); both weights are kept "
        f"({WEIGHTS}, {LAST_WEIGHTS}). Validation: held-out images, PGD-k and "
        f"FGSM at the defence's budget (`training.validation`); {EPOCH_LOG} has every epoch.\n",
        empty="no trained run has validation images",
    )
