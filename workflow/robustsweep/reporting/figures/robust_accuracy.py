"""Accuracy per test set and defence (this project's own summary of the robustness numbers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from robustsweep.reporting.figures import FIGURES, seaborn
from robustsweep.reporting.metric_table import full_rows
from robustsweep.reporting.spread import percent_interval

if TYPE_CHECKING:
    import pandas as pd
    import seaborn as sns


@FIGURES.register("robust_accuracy")
def robust_accuracy(metrics: pd.DataFrame) -> sns.FacetGrid | None:
    """Accuracy per test set (clean, natural, each stored attack) for each defence, mean and
    95 % logit-t interval over draws
    (inside [0, 100])."""
    pool = metrics.train_classes.max()
    rows = full_rows(metrics)
    rows = rows[(rows.train_classes == pool) & (rows.test_set != "corrupted")].copy()
    if rows.empty:
        return None
    rows["accuracy (%)"] = rows.accuracy * 100
    test_sets = ["clean", "natural", *sorted(set(rows.test_set) - {"clean", "natural"})]
    defences = ["standard", *sorted(set(rows.defence) - {"standard"})]
    grid = seaborn().catplot(
        data=rows,
        x="test_set",
        y="accuracy (%)",
        hue="defence",
        order=[name for name in test_sets if name in set(rows.test_set)],
        hue_order=[name for name in defences if name in set(rows.defence)],
        col="model",
        kind="bar",
        errorbar=percent_interval,
        height=3.2,
        aspect=1.3,
    )
    grid.set_xticklabels(rotation=45, ha="right")
    grid.set_axis_labels("test set", "accuracy (%)")
    return grid
