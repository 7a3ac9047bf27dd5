"""Acc, AUC and AP of every all-class model on the natural adversarial set (zhu2025, Table 1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from robustsweep.reporting.figures import FIGURES, all_class_natural, seaborn
from robustsweep.reporting.spread import fraction_interval

if TYPE_CHECKING:
    import pandas as pd
    import seaborn as sns


@FIGURES.register("model_metrics")
def model_metrics(metrics: pd.DataFrame) -> sns.FacetGrid | None:
    """Acc, AUC and AP per all-class model on the natural adversarial set (Table 1), mean and
    95 % logit-t interval over draws."""
    tidy = all_class_natural(metrics).melt(
        id_vars=["model", "draw"],
        value_vars=["accuracy", "auc", "ap"],
        var_name="metric",
        value_name="value",
    )
    if tidy.empty:
        return None
    grid = seaborn().catplot(
        data=tidy,
        x="model",
        y="value",
        col="metric",
        kind="bar",
        errorbar=fraction_interval,
        height=3.0,
        aspect=0.9,
        sharey=False,
    )
    grid.set_titles("{col_name}")
    return grid
