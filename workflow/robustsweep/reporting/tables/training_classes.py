"""zhu2025's Table 2: natural-adversarial accuracy against the number of training classes N."""

from __future__ import annotations

import pandas as pd

from robustsweep.reporting.metric_table import full_rows, with_mean
from robustsweep.reporting.tables import TABLES, TableContext, section


def training_class_table(metrics: pd.DataFrame, model: str) -> pd.DataFrame:
    """Table 2: natural-adversarial accuracy (%) per draw (rows) and N (columns); a pretrained
    ImageNet-1k model of the same architecture adds the paper's 1000-class column (its
    accuracy over all the study's classes, in the first row, as the paper prints it)."""
    rows = full_rows(metrics)
    natural = rows[(rows.defence == "standard") & (rows.test_set == "natural")]
    own = natural[natural.model == model]
    table = own.pivot_table(index="draw", columns="n_train_classes", values="accuracy") * 100
    table.index = [f"draw {draw}" for draw in table.index]
    table = with_mean(table)
    if "pretrained_weights" in natural and not own.empty and table.shape[1] > 1:
        pretrained = natural[
            (natural.architecture == own.architecture.iloc[0])
            & (natural.pretrained_weights.fillna("") != "")
            & (natural.n_train_classes == metrics.n_train_classes.max())
        ]
        for name, group in pretrained.groupby("model"):
            column = f"1000 ({name}, pretrained)"
            table[column] = float("nan")
            table.loc[table.index[0], column] = group.accuracy.iloc[0] * 100
    return table


@TABLES.register("training_classes", order=20)
def training_classes(metrics: pd.DataFrame, context: TableContext) -> str:
    parts = []
    for model in sorted(metrics.model.unique()):
        table = training_class_table(metrics, model)
        if table.shape[1] > 1:
            parts.append(section(f"Table 2: {model}, accuracy (%) vs training classes N", table))
    return "\n".join(parts)
