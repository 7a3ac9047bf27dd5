"""Stage 5: seaborn figures, one per file, each a pivot of the tidy metric table.

The Snakefile reads FIGURES to name the figure files, so plotting libraries are imported only
when a figure is drawn. A study whose runs give a figure nothing to plot (no `standard` runs,
say) gets a placeholder that says so, as the tables do, so `rule all` still completes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from robustsweep.atomic_output import atomic_path
from robustsweep.paper_tables import full_rows

if TYPE_CHECKING:
    import pandas as pd
    import seaborn as sns


def _seaborn():
    import matplotlib

    matplotlib.use("Agg")
    import seaborn as sns

    return sns


def _natural_accuracy_lines(rows: pd.DataFrame, x: str, xlabel: str) -> sns.FacetGrid | None:
    """Natural-adversarial accuracy (%) against `x`, one line per model, mean +- sd."""
    rows = rows[(rows.test_set == "natural") & (rows.defence == "standard")]
    if rows.empty:
        return None
    rows = rows.assign(**{"accuracy (%)": rows.accuracy * 100})
    grid = _seaborn().relplot(
        data=rows,
        x=x,
        y="accuracy (%)",
        hue="model",
        kind="line",
        marker="o",
        errorbar="sd",
        height=3.2,
        aspect=1.4,
    )
    # Fewer classes raise accuracy by chance alone; the 1/K line keeps that in view.
    classes = sorted(rows[x].unique())
    grid.ax.plot(classes, [100 / k for k in classes], ls="--", color="gray", label="chance")
    grid.set_axis_labels(xlabel, "natural adversarial accuracy (%)")
    return grid


def accuracy_vs_n(metrics: pd.DataFrame) -> sns.FacetGrid | None:
    """Natural-adversarial accuracy vs training classes N, mean +- sd over draws (Table 2);
    the dashed line is chance, 1/N."""
    return _natural_accuracy_lines(full_rows(metrics), "n_train_classes", "training classes N")


def accuracy_vs_m(metrics: pd.DataFrame) -> sns.FacetGrid | None:
    """Natural-adversarial accuracy vs predicted classes M for all-class models, mean +- sd
    over trials and seeds (Fig. 12); the dashed line is chance, 1/M."""
    rows = metrics[
        (metrics.n_train_classes == metrics.n_train_classes.max()) & (metrics.pattern == "all")
    ]
    return _natural_accuracy_lines(rows, "m_classes", "predicted classes M")


def _all_class_natural(metrics: pd.DataFrame) -> pd.DataFrame:
    """Natural-set rows of all-class standard runs at M = N (what Table 1 reports)."""
    rows = full_rows(metrics)
    return rows[
        (rows.n_train_classes == metrics.n_train_classes.max())
        & (rows.defence == "standard")
        & (rows.test_set == "natural")
    ]


def model_metrics(metrics: pd.DataFrame) -> sns.FacetGrid | None:
    """Acc, AUC and AP per all-class model on the natural adversarial set (Table 1)."""
    tidy = _all_class_natural(metrics).melt(
        id_vars=["model", "seed"],
        value_vars=["accuracy", "auc", "ap"],
        var_name="metric",
        value_name="value",
    )
    if tidy.empty:
        return None
    grid = _seaborn().catplot(
        data=tidy,
        x="model",
        y="value",
        col="metric",
        kind="bar",
        errorbar="sd",
        height=3.0,
        aspect=0.9,
        sharey=False,
    )
    grid.set_titles("{col_name}")
    return grid


def robust_accuracy(metrics: pd.DataFrame) -> sns.FacetGrid | None:
    """Accuracy per test set (clean, natural, each stored attack) for each defence."""
    pool = metrics.n_train_classes.max()
    rows = full_rows(metrics)
    rows = rows[rows.n_train_classes == pool].copy()
    if rows.empty:
        return None
    rows["accuracy (%)"] = rows.accuracy * 100
    test_sets = ["clean", "natural", *sorted(set(rows.test_set) - {"clean", "natural"})]
    defences = ["standard", *sorted(set(rows.defence) - {"standard"})]
    grid = _seaborn().catplot(
        data=rows,
        x="test_set",
        y="accuracy (%)",
        hue="defence",
        order=[name for name in test_sets if name in set(rows.test_set)],
        hue_order=[name for name in defences if name in set(rows.defence)],
        col="model",
        kind="bar",
        errorbar="sd",
        height=3.2,
        aspect=1.3,
    )
    grid.set_xticklabels(rotation=45, ha="right")
    grid.set_axis_labels("test set", "accuracy (%)")
    return grid


def architecture_family(architecture: str) -> str:
    """The family of an architecture, without its size: resnet101 -> resnet,
    efficientnet_b3 -> efficientnet, convnext_large -> convnext, timm:vit_small_... -> vit."""
    name = architecture.removeprefix("timm:")
    name = re.sub(r"_(tiny|small|base|large|huge|[ab]\d+|x\d_\d)$", "", name)
    name = re.sub(r"(?<![_v\d])\d+(_bn)?$", "", name)
    return name.split("_")[0] if architecture.startswith("timm:") else name


def parameters_vs_accuracy(metrics: pd.DataFrame) -> sns.FacetGrid | None:
    """Natural-adversarial accuracy against parameter count (log scale) for each all-class
    standard model, mean over seeds; colour is the family, and lines join the sizes within a
    family (seed 000, Figs. 10-11)."""
    rows = _all_class_natural(metrics)
    if rows.empty:
        return None
    models = rows.groupby(["model", "architecture"], as_index=False).agg(
        accuracy=("accuracy", "mean"), parameters=("parameters", "first")
    )
    models["family"] = models.architecture.map(architecture_family)
    models["parameters (M)"] = models.parameters / 1e6
    models["accuracy (%)"] = models.accuracy * 100
    models = models.sort_values("parameters")
    grid = _seaborn().relplot(
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
    points = zip(models.model, models["parameters (M)"], models["accuracy (%)"], strict=True)
    for name, x, y in points:
        grid.ax.annotate(name, (x, y), fontsize=6, alpha=0.8)
    grid.set_axis_labels("parameters (millions, log scale)", "natural adversarial accuracy (%)")
    return grid


FIGURES: dict[str, Callable[[pd.DataFrame], sns.FacetGrid | None]] = {
    "accuracy_vs_n": accuracy_vs_n,
    "accuracy_vs_m": accuracy_vs_m,
    "model_metrics": model_metrics,
    "robust_accuracy": robust_accuracy,
    "parameters_vs_accuracy": parameters_vs_accuracy,
}


def caption(kind: str) -> str:
    """The report caption of a figure: its function's docstring on one line."""
    return " ".join(FIGURES[kind].__doc__.split())


def draw_figure(kind: str, metrics_path: Path, output: Path, style: dict) -> None:
    """Draw one figure with the config's style and save it atomically."""
    import pandas as pd
    from matplotlib import pyplot as plt

    _seaborn().set_theme(style=style["style"], context=style["context"])
    grid = FIGURES[kind](pd.read_csv(metrics_path))
    figure = grid.figure if grid is not None else _placeholder(kind)
    with atomic_path(output) as tmp:
        figure.savefig(tmp, dpi=style["dpi"], format=style["format"], bbox_inches="tight")
    plt.close("all")


def _placeholder(kind: str):
    """A figure saying that no run of this study feeds this figure, and what it would show."""
    from matplotlib import pyplot as plt

    figure, ax = plt.subplots(figsize=(5, 1.6))
    ax.axis("off")
    ax.text(
        0.5,
        0.5,
        f"no runs in this study produce this figure:\n{caption(kind)}",
        ha="center",
        va="center",
        wrap=True,
        fontsize=8,
    )
    return figure
