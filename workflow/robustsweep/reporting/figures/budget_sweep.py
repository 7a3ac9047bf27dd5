"""Robust accuracy against the attack's budget, per run (evaluation/budget_sweep.py): the
curve Carlini et al. 2019 (arXiv:1902.06705) ask for, which must fall to 0."""

from __future__ import annotations

from typing import TYPE_CHECKING

from robustsweep.reporting.figures import FIGURES, seaborn
from robustsweep.reporting.spread import t_interval
from robustsweep.set_names import BUDGET_PREFIX

if TYPE_CHECKING:
    import pandas as pd
    import seaborn as sns


@FIGURES.register("budget_sweep")
def budget_sweep(metrics: pd.DataFrame) -> sns.FacetGrid | None:
    """Robust accuracy (%) under one white-box attack as its budget eps grows (eps 0: clean),
    one line per model and defence, mean and 95 % t-interval over the runs' draws and class
    counts; a curve that does not fall to 0 points at gradient masking (Carlini et al.)."""
    if "severity" not in metrics:
        return None
    rows = metrics[metrics.test_set.str.startswith(BUDGET_PREFIX) & metrics.severity.notna()]
    if rows.empty:
        return None
    rows = rows.assign(**{"accuracy (%)": rows.accuracy * 100, "eps": rows.severity})
    grid = seaborn().relplot(
        data=rows,
        x="eps",
        y="accuracy (%)",
        hue="model",
        style="defence",
        col="test_set",
        kind="line",
        marker="o",
        errorbar=t_interval,
        height=3.2,
        aspect=1.4,
    )
    grid.set_axis_labels("budget eps", "robust accuracy (%)")
    return grid
