"""Validation clean and robust accuracy per epoch: robust overfitting (Rice et al. 2020,
arXiv:2002.11569) and catastrophic overfitting (Wong et al. 2020) at a glance."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pandas as pd

from robustsweep.reporting.figures import FIGURES, seaborn
from robustsweep.reporting.metric_table import RUN_KEYS
from robustsweep.reporting.spread import t_interval

if TYPE_CHECKING:
    import seaborn as sns

MEASURES = {1: "clean", 2: "PGD", 3: "FGSM"}  # positions in a curve's [epoch, ...] entries


def validation_points(metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per (run, epoch, measure) from the runs' `validation_curve` columns."""
    if "validation_curve" not in metrics:
        return pd.DataFrame()
    runs = metrics[[*RUN_KEYS, "validation_curve"]].drop_duplicates(RUN_KEYS)
    points = [
        {**run, "epoch": entry[0], "measure": name, "accuracy (%)": 100 * entry[slot]}
        for run in runs.to_dict("records")
        for entry in json.loads(run.pop("validation_curve") or "[]")
        for slot, name in MEASURES.items()
        if entry[slot] is not None
    ]
    return pd.DataFrame(points)


@FIGURES.register("validation_curves")
def validation_curves(metrics: pd.DataFrame) -> sns.FacetGrid | None:
    """Validation accuracy per epoch, clean, under PGD-k and under FGSM (held-out images,
    the defence's budget), one panel per defence and one colour per model, mean and 95 %
    t-interval over draws and class counts: robust overfitting is PGD falling after its best
    epoch; catastrophic overfitting is PGD dropping to zero while FGSM stays high."""
    points = validation_points(metrics)
    if points.empty:
        return None
    grid = seaborn().relplot(
        data=points,
        x="epoch",
        y="accuracy (%)",
        hue="model",
        style="measure",
        style_order=[m for m in MEASURES.values() if m in set(points.measure)],
        col="defence",
        col_wrap=min(3, points.defence.nunique()),
        kind="line",
        errorbar=t_interval,
        height=3.0,
        aspect=1.3,
    )
    grid.set_axis_labels("epoch", "validation accuracy (%)")
    return grid
