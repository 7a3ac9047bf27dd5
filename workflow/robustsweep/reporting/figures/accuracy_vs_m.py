"""Natural-adversarial accuracy against the number of predicted classes M (zhu2025, Fig. 12)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from robustsweep.reporting.figures import FIGURES, natural_accuracy_lines
from robustsweep.reporting.metric_table import M_SWEEP_PROTOCOLS

if TYPE_CHECKING:
    import pandas as pd
    import seaborn as sns


@FIGURES.register("accuracy_vs_m")
def accuracy_vs_m(metrics: pd.DataFrame) -> sns.FacetGrid | None:
    """Natural-adversarial accuracy vs predicted classes M for all-class models, mean and 95 %
    logit-t interval over trials and draws (Fig. 12), one line style per scoring protocol the study
    lists: the M classes' images only (the dashed chance line, 1/M, is for this one) or all
    images with unchosen classes counted wrong (the protocol zhu2025's Fig. 12 plotted)."""
    import pandas as pd

    rows = metrics[
        (metrics.train_classes == metrics.train_classes.max()) & (metrics.pattern == "all")
    ]
    below = rows.predicted_classes < rows.train_classes
    curves = [
        rows.assign(accuracy=rows[column], scoring=label)
        for column, label in M_SWEEP_PROTOCOLS.items()
        if column in rows and rows.loc[below, column].notna().any()
    ]
    if not curves:
        return natural_accuracy_lines(rows, "predicted_classes", "predicted classes M")
    long = pd.concat(curves, ignore_index=True)
    style = "scoring" if len(curves) > 1 else None
    return natural_accuracy_lines(long, "predicted_classes", "predicted classes M", style)
