"""Natural-adversarial accuracy against parameter count (zhu2025, Figs. 10-11)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from robustsweep.reporting.figures import FIGURES, all_class_natural, seaborn
from robustsweep.reporting.spread import fraction_interval

if TYPE_CHECKING:
    import pandas as pd
    import seaborn as sns


def architecture_family(architecture: str) -> str:
    """The family of an architecture, without its size: resnet101 -> resnet,
    efficientnet_b3 -> efficientnet, convnext_large -> convnext, timm:vit_small_... -> vit."""
    name = architecture.removeprefix("timm:")
    name = re.sub(r"_(tiny|small|base|large|huge|[ab]\d+|x\d_\d)$", "", name)
    name = re.sub(r"(?<![_v\d])\d+(_bn)?$", "", name)
    return name.split("_")[0] if architecture.startswith("timm:") else name


@FIGURES.register("parameters_vs_accuracy")
def parameters_vs_accuracy(metrics: pd.DataFrame) -> sns.FacetGrid | None:
    """Natural-adversarial accuracy against parameter count (log scale) for each all-class
    standard model, mean over draws with its 95 % logit-t interval; colour is the family, and lines
    join the sizes within a family (zhu2025, Figs. 10-11)."""
    rows = all_class_natural(metrics)
    if rows.empty:
        return None
    models = rows.groupby(["model", "architecture"], as_index=False).agg(
        accuracy=("accuracy", "mean"),
        parameters=("parameters", "first"),
        interval=("accuracy", fraction_interval),
    )
    models["family"] = models.architecture.map(architecture_family)
    models["parameters (M)"] = models.parameters / 1e6
    models["accuracy (%)"] = models.accuracy * 100
    models = models.sort_values("parameters")
    grid = seaborn().relplot(
        data=models,
        x="parameters (M)",
        y="accuracy (%)",
        hue="family",
        kind="line",
        marker="o",
        height=3.4,
        aspect=1.4,
    )
    grid.ax.set_xscale("log")
    spread = models[models.interval.map(lambda pair: pair[1] > pair[0])]  # two or more draws
    if not spread.empty:
        low = spread.interval.map(lambda pair: pair[0] * 100)
        high = spread.interval.map(lambda pair: pair[1] * 100)
        grid.ax.errorbar(
            spread["parameters (M)"],
            spread["accuracy (%)"],
            yerr=[spread["accuracy (%)"] - low, high - spread["accuracy (%)"]],
            fmt="none",
            ecolor="gray",
            capsize=2,
        )
    points = zip(models.model, models["parameters (M)"], models["accuracy (%)"], strict=True)
    for name, x, y in points:
        grid.ax.annotate(name, (x, y), fontsize=6, alpha=0.8)
    grid.set_axis_labels("parameters (millions, log scale)", "natural adversarial accuracy (%)")
    return grid
