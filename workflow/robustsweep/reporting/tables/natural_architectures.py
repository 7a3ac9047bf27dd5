"""zhu2025's Table 1: Acc, AUC and AP on the natural adversarial set per all-class model."""

from __future__ import annotations

import pandas as pd

from robustsweep.reporting.metric_table import full_rows
from robustsweep.reporting.spread import SPREAD_NOTE, spread_table
from robustsweep.reporting.tables import TABLES, TableContext, section

METRICS = {"accuracy": "Acc", "auc": "AUC", "ap": "AP"}
# a pretrained ImageNet model sliced to the study's classes is scored both ways
# (evaluation.imagenet_a_head picks the one in `accuracy`, the Acc column the paper is judged on)
HEADS = {"accuracy_sliced": "Acc sliced", "accuracy_full_head": "Acc 1000-way"}
HEADS_NOTE = (
    "Acc sliced: the argmax over the study's classes' logits only (Lee et al.'s protocol, and "
    "Hendrycks et al.'s 200-class ImageNet-A evaluation); Acc 1000-way: the argmax over all of "
    "ImageNet's 1000 logits, right only when it is the image's class. Acc is the one "
    "`evaluation.imagenet_a_head` names.\n"
)


def architecture_rows(metrics: pd.DataFrame, pool: int) -> pd.DataFrame:
    rows = full_rows(metrics)
    return rows[(rows.train_classes == pool) & (rows.defence == "standard")]


def parameter_millions(rows: pd.DataFrame) -> pd.Series:
    millions = rows.groupby("model").parameters.first() / 1e6
    return millions.map(lambda value: f"{value:.2f} M")


def architecture_spread_table(metrics: pd.DataFrame, pool: int) -> pd.DataFrame:
    """Table 1 with the spread over draws of every metric (fractions, 4 digits)."""
    rows = architecture_rows(metrics, pool)
    natural = rows[rows.test_set == "natural"]
    if natural.empty:
        return pd.DataFrame()
    heads = [c for c in HEADS if c in natural and natural[c].notna().any()]
    long = natural.melt(["model", "draw"], [*METRICS, *heads], "metric", "value")
    long = long[long.value.notna()]
    clean = rows[rows.test_set == "clean"].assign(metric="Clean acc", value=lambda r: r.accuracy)
    long = pd.concat([clean[["model", "draw", "metric", "value"]], long])
    long["metric"] = long.metric.replace(METRICS | HEADS)
    table = spread_table(long, "model", "metric", "value", scale=1, digits=4, bounds=(0.0, 1.0))
    order = ["Clean acc", "Acc", *(HEADS[c] for c in heads), "AUC", "AP"]
    table = table[[c for c in order if c in table]]
    table.insert(0, "Parameters", parameter_millions(rows))
    return table


@TABLES.register("natural_architectures", order=10)
def natural_architectures(metrics: pd.DataFrame, context: TableContext) -> str:
    table = architecture_spread_table(metrics, context.pool_size)
    return section(
        "Table 1: natural adversarial set, all-class models (Acc, AUC, AP)",
        table,
        4,
        note=""
        if table.empty
        else SPREAD_NOTE + (HEADS_NOTE if HEADS["accuracy_full_head"] in table else ""),
    )
