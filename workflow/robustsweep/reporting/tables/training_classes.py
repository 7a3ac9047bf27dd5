"""zhu2025's Table 2: natural-adversarial accuracy against the number of training classes N."""

from __future__ import annotations

import pandas as pd

from robustsweep.reporting.metric_table import full_rows, with_mean
from robustsweep.reporting.spread import spread_rows
from robustsweep.reporting.tables import TABLES, TableContext, section


def natural_standard_rows(metrics: pd.DataFrame) -> pd.DataFrame:
    rows = full_rows(metrics)
    return rows[(rows.defence == "standard") & (rows.test_set == "natural")]


def draw_table(metrics: pd.DataFrame, model: str) -> pd.DataFrame:
    """Natural-adversarial accuracy (%) of `model` per draw (rows) and N (columns)."""
    natural = natural_standard_rows(metrics)
    own = natural[natural.model == model]
    table = own.pivot_table(index="draw", columns="train_classes", values="accuracy") * 100
    table.index = [f"draw {draw}" for draw in table.index]
    return table


def pretrained_columns(metrics: pd.DataFrame, model: str) -> dict[str, float]:
    """The paper's 1000-class column: each pretrained ImageNet-1k model of the same
    architecture, its accuracy (%) over all the study's classes."""
    natural = natural_standard_rows(metrics)
    own = natural[natural.model == model]
    if "pretrained_weights" not in natural or own.empty:
        return {}
    pretrained = natural[
        (natural.architecture == own.architecture.iloc[0])
        & (natural.pretrained_weights.fillna("") != "")
        & (natural.train_classes == metrics.train_classes.max())
    ]
    return {
        f"1000 ({name}, pretrained)": group.accuracy.iloc[0] * 100
        for name, group in pretrained.groupby("model")
    }


def training_class_table(metrics: pd.DataFrame, model: str) -> pd.DataFrame:
    """Table 2: natural-adversarial accuracy (%) per draw (rows) and N (columns); a pretrained
    ImageNet-1k model of the same architecture adds the paper's 1000-class column (its
    accuracy over all the study's classes, in the first row, as the paper prints it)."""
    table = with_mean(draw_table(metrics, model))
    if table.shape[1] > 1:
        for column, value in pretrained_columns(metrics, model).items():
            table[column] = float("nan")
            table.loc[table.index[0], column] = value
    return table


def training_class_spread_table(metrics: pd.DataFrame, model: str) -> pd.DataFrame:
    """Table 2 as printed: per-draw rows, then Mean, SD and the 95 % interval over draws."""
    draws = draw_table(metrics, model)
    if draws.shape[1] < 2:
        return pd.DataFrame()
    table = spread_rows(draws, bounds=(0.0, 100.0))
    for column, value in pretrained_columns(metrics, model).items():
        table[column] = ""
        table.loc[table.index[0], column] = f"{value:.2f}"
    return table


@TABLES.register("training_classes", order=20)
def training_classes(metrics: pd.DataFrame, context: TableContext) -> str:
    parts = []
    for model in sorted(metrics.model.unique()):
        table = training_class_spread_table(metrics, model)
        if not table.empty:
            parts.append(section(f"Table 2: {model}, accuracy (%) vs training classes N", table))
    return "\n".join(parts)
