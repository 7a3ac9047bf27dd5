"""Natural-adversarial accuracy against the number of predicted classes M (zhu2025, Fig. 12)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from robustsweep.reporting.figures import FIGURES, natural_accuracy_lines

if TYPE_CHECKING:
    import pandas as pd
    import seaborn as sns


@FIGURES.register("accuracy_vs_m")
def accuracy_vs_m(metrics: pd.DataFrame) -> sns.FacetGrid | None:
    """Natural-adversarial accuracy vs predicted classes M for all-class models, mean and 95 %
    t-interval over trials and draws (Fig. 12); the dashed line is chance, 1/M."""
    rows = metrics[
        (metrics.n_train_classes == metrics.n_train_classes.max()) & (metrics.pattern == "all")
    ]
    return natural_accuracy_lines(rows, "m_classes", "predicted classes M")
