"""Natural-adversarial accuracy against the number of training classes N (zhu2025, Table 2)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from robustsweep.reporting.figures import FIGURES, natural_accuracy_lines
from robustsweep.reporting.metric_table import full_rows

if TYPE_CHECKING:
    import pandas as pd
    import seaborn as sns


@FIGURES.register("accuracy_vs_n")
def accuracy_vs_n(metrics: pd.DataFrame) -> sns.FacetGrid | None:
    """Natural-adversarial accuracy vs training classes N, mean and 95 % logit-t interval over draws
    (Table 2); the dashed line is chance, 1/N."""
    return natural_accuracy_lines(full_rows(metrics), "train_classes", "training classes N")
