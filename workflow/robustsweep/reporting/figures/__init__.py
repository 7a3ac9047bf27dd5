"""Stage 5: seaborn figures, one per file, each a pivot of the tidy metric table.

One module per figure, each registering a function (metrics table -> seaborn grid, or None
when the study has nothing to plot) in `FIGURES`; its docstring is the report's caption. A
figure registered with `reads="attacks"` is drawn from the attack table instead (every store's
and white-box set's success report, reporting/attack_table.py). The
Snakefile names the figure files from the registry's index, so plotting libraries are imported
only when a figure is drawn. A study whose runs give a figure nothing to plot (no `standard`
runs, say) gets a placeholder that says so, as the tables do, so `rule all` still completes.
Helpers several figures share are below.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from robustsweep.atomic_output import atomic_path
from robustsweep.registry import Registry
from robustsweep.reporting.metric_table import full_rows
from robustsweep.reporting.spread import percent_interval
from robustsweep.stage_settings import FigureSettings, FigureStyle

if TYPE_CHECKING:
    import pandas as pd
    import seaborn as sns

FIGURES = Registry("figure", __name__)


def seaborn():
    import matplotlib

    matplotlib.use("Agg")
    import seaborn as sns

    return sns


def natural_accuracy_lines(
    rows: pd.DataFrame, x: str, xlabel: str, style: str | None = None
) -> sns.FacetGrid | None:
    """Natural-adversarial accuracy (%) against `x`, one line per model (and per value of
    the `style` column, if given), the mean and its 95 % logit-t interval over the runs (spread.py,
    as the tables print it)."""
    rows = rows[(rows.test_set == "natural") & (rows.defence == "standard")]
    rows = rows[rows.accuracy.notna()]
    if rows.empty:
        return None
    rows = rows.assign(**{"accuracy (%)": rows.accuracy * 100})
    grid = seaborn().relplot(
        data=rows,
        x=x,
        y="accuracy (%)",
        hue="model",
        style=style,
        kind="line",
        marker="o",
        errorbar=percent_interval,
        height=3.2,
        aspect=1.4,
    )
    # Fewer classes raise accuracy by chance alone; the 1/K line keeps that in view.
    classes = sorted(rows[x].unique())
    grid.ax.plot(classes, [100 / k for k in classes], ls="--", color="gray", label="chance")
    grid.set_axis_labels(xlabel, "natural adversarial accuracy (%)")
    return grid


def all_class_natural(metrics: pd.DataFrame) -> pd.DataFrame:
    """Natural-set rows of all-class standard runs at M = N (what Table 1 reports)."""
    rows = full_rows(metrics)
    return rows[
        (rows.train_classes == metrics.train_classes.max())
        & (rows.defence == "standard")
        & (rows.test_set == "natural")
    ]


def caption(name: str) -> str:
    """The report caption of a figure: its function's docstring on one line."""
    return " ".join(FIGURES.get(name).target.__doc__.split())


def reads(name: str) -> str:
    """The table a figure is drawn from: `metrics` (default) or `attacks` (the attack table,
    reporting/attack_table.py), as its registration says (`reads="attacks"`)."""
    return FIGURES.get(name).facts.get("reads", "metrics")


def figure_stage(
    *,
    settings: FigureSettings,
    output: Path,
    metrics: Path | None = None,
    attacks: Path | None = None,
) -> None:
    table = {"metrics": metrics, "attacks": attacks}[reads(settings.figure)]
    draw_figure(settings.figure, table, output, settings.style)


def draw_figure(name: str, table_path: Path, output: Path, style: FigureStyle) -> None:
    """Draw one figure from its table with the config's style and save it atomically."""
    import pandas as pd
    from matplotlib import pyplot as plt

    seaborn().set_theme(style=style.style, context=style.context)
    grid = FIGURES.get(name).target(pd.read_csv(table_path))
    figure = grid.figure if grid is not None else _placeholder(name)
    with atomic_path(output) as tmp:
        figure.savefig(tmp, dpi=style.dpi, format=style.format, bbox_inches="tight")
    plt.close("all")


def _placeholder(name: str):
    """A figure saying that no run of this study feeds this figure, and what it would show."""
    from matplotlib import pyplot as plt

    figure, ax = plt.subplots(figsize=(5, 1.6))
    ax.axis("off")
    ax.text(
        0.5,
        0.5,
        f"no runs in this study produce this figure:\n{caption(name)}",
        ha="center",
        va="center",
        wrap=True,
        fontsize=8,
    )
    return figure
