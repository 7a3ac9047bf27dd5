"""xu2024's trade-off: what each feature-map scheme (strides, input upsampling) costs."""

from __future__ import annotations

import pandas as pd

from robustsweep.reporting.tables import TABLES, TableContext, section

BYTES_PER_ELEMENT = 4  # float32 activations


def feature_map_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per model: its map before global pooling, parameters, and activations of one image
    (every leaf module's output, measured with forward hooks at the study's image size),
    also relative to the study's cheapest model. Deterministic: no spread."""
    if "activation_elements" not in metrics or metrics.activation_elements.isna().all():
        return pd.DataFrame()
    models = metrics.groupby("model").agg(
        architecture=("architecture", "first"),
        feature_map=("feature_map", "first"),
        parameters=("parameters", "first"),
        activations=("activation_elements", "first"),
    )
    models = models.dropna(subset=["activations"]).sort_values("activations")
    table = pd.DataFrame(index=models.index)
    table["Architecture"] = models.architecture
    table["Map before pooling"] = models.feature_map
    table["Parameters (M)"] = models.parameters / 1e6
    table["Activations (M elements / image)"] = models.activations / 1e6
    table["Activation memory (MiB / image, fp32)"] = models.activations * BYTES_PER_ELEMENT / 2**20
    table["Activations (x cheapest)"] = models.activations / models.activations.min()
    return table


@TABLES.register("feature_map_cost", order=55)
def feature_map_cost(metrics: pd.DataFrame, context: TableContext) -> str:
    return section(
        "Feature-map size and cost per model (xu2024's trade-off)",
        feature_map_table(metrics),
        note="Activations: the outputs of every leaf module for one test-sized image, measured "
        "with forward hooks (what a training step keeps for its backward pass, before any "
        "in-place reuse); larger maps before pooling cost activation memory, not parameters.\n",
    )
