"""xu2024's claim as a curve: robust accuracy against the size of the map before pooling."""

from __future__ import annotations

from typing import TYPE_CHECKING

from robustsweep.reporting.figures import FIGURES, seaborn
from robustsweep.reporting.metric_table import full_rows
from robustsweep.reporting.spread import t_interval
from robustsweep.set_names import WHITE_BOX_PREFIX

if TYPE_CHECKING:
    import pandas as pd
    import seaborn as sns


def map_side(feature_map: str) -> float:
    """The side of a square map ("8x8" -> 8); NaN where there is none."""
    try:
        height, _ = str(feature_map).split("x")
        return float(height)
    except ValueError:
        return float("nan")


def sweep_rows(metrics: pd.DataFrame) -> pd.DataFrame:
    """Clean and white-box rows of the all-class runs of every (architecture, defence) seen
    at two or more map sizes, with the map's side as a number."""
    pool = metrics.train_classes.max()
    rows = full_rows(metrics)
    rows = rows[(rows.train_classes == pool) & rows.accuracy.notna()]
    rows = rows[(rows.test_set == "clean") | rows.test_set.str.startswith(WHITE_BOX_PREFIX)]
    rows = rows.assign(map_side=[map_side(m) for m in rows.feature_map]).dropna(subset=["map_side"])
    sizes = rows.groupby(["architecture", "defence"]).map_side.transform("nunique")
    return rows[sizes >= 2]


@FIGURES.register("accuracy_vs_feature_map")
def accuracy_vs_feature_map(metrics: pd.DataFrame) -> sns.FacetGrid | None:
    """Clean and white-box (robust) accuracy against the side of the feature map before
    global pooling (xu2024: larger maps resist perturbations), one panel per architecture and
    defence seen at two or more map sizes (the upsampling sweep x1-x4, the stride schemes);
    runs of models with the same map size are pooled (mean and 95 % t-interval)."""
    if "feature_map" not in metrics:
        return None
    rows = sweep_rows(metrics)
    if rows.empty:
        return None
    rows = rows.assign(**{"accuracy (%)": rows.accuracy * 100})
    grid = seaborn().relplot(
        data=rows,
        x="map_side",
        y="accuracy (%)",
        hue="test_set",
        col="architecture",
        row="defence",
        kind="line",
        marker="o",
        errorbar=t_interval,
        height=3.0,
        aspect=1.3,
    )
    grid.set_axis_labels("feature-map side before pooling (px)", "accuracy (%)")
    return grid
