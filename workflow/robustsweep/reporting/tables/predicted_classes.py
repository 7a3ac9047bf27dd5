"""zhu2025's Tables 3-5: natural-adversarial accuracy against the number of predicted classes M,
one table per model and per M-sweep protocol the study lists (evaluation.m_sweep_scoring)."""

from __future__ import annotations

import pandas as pd

from robustsweep.reporting.metric_table import M_SWEEP_PROTOCOLS
from robustsweep.reporting.spread import spread_rows
from robustsweep.reporting.tables import TABLES, TableContext, section

NOTES = {
    "accuracy": "Only the images of the M chosen classes are scored (Algorithm 2 as written), "
    "so accuracy can only fall as M grows.\n",
    "accuracy_all_images": "Every image of the model's classes is scored, one of an unchosen "
    "class counting as wrong: (the M classes' share of the images) x the accuracy among them. "
    "This is the protocol zhu2025's Tables 3-5 printed (their M = 200 equals Table 1).\n",
}


def trial_table(
    metrics: pd.DataFrame, model: str, pool: int, column: str = "accuracy"
) -> pd.DataFrame:
    """Natural-adversarial accuracy (%) per (draw, trial) (rows) and M (columns), as one
    M-sweep protocol scores it (`column`)."""
    rows = metrics[
        (metrics.model == model)
        & (metrics.train_classes == pool)
        & (metrics.defence == "standard")
        & (metrics.test_set == "natural")
        & (metrics.pattern == "all")
    ]
    if column not in rows:
        return pd.DataFrame()
    table = (
        rows.pivot_table(index=["draw", "trial"], columns="predicted_classes", values=column) * 100
    )
    table.index = [f"draw {draw} trial {trial + 1}" for draw, trial in table.index]
    return table


@TABLES.register("predicted_classes", order=30)
def predicted_classes(metrics: pd.DataFrame, context: TableContext) -> str:
    parts = []
    for model in sorted(metrics.model.unique()):
        for column, label in M_SWEEP_PROTOCOLS.items():
            trials = trial_table(metrics, model, context.pool_size, column)
            if trials.shape[1] > 1:
                title = f"Tables 3-5: {model}, accuracy (%) vs predicted classes M ({label})"
                note = NOTES[column] + (
                    "Mean, SD and 95 % CI (logit-t, inside 0 to 100 %) are over every draw and "
                    "trial.\n"
                )
                parts.append(section(title, spread_rows(trials, bounds=(0.0, 100.0)), note=note))
    return "\n".join(parts)
