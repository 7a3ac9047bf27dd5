"""Paper-style tables from the tidy metrics: zhu2025's Table 2 with its 1000-class column."""

import numpy as np
import pandas as pd

from robustsweep.reporting.tables.training_classes import training_class_table


def row(model, architecture, n, draw, accuracy, pretrained=""):
    return {
        "model": model,
        "architecture": architecture,
        "pretrained_weights": pretrained,
        "n_train_classes": n,
        "draw": draw,
        "defence": "standard",
        "test_set": "natural",
        "pattern": "all",
        "m_classes": n,
        "trial": 0,
        "accuracy": accuracy,
    }


def test_table_2_adds_the_pretrained_model_of_the_same_architecture():
    metrics = pd.DataFrame(
        [
            row("convnext_n", "convnext_tiny", 20, 0, 0.44),
            row("convnext_n", "convnext_tiny", 20, 1, 0.46),
            row("convnext_n", "convnext_tiny", 200, 0, 0.09),
            row("convnext_n", "convnext_tiny", 200, 1, 0.11),
            row("convnext_tiny", "convnext_tiny", 200, 0, 0.2347, "ConvNeXt_Tiny_Weights.V1"),
            row("vgg16", "vgg16", 200, 0, 0.0264, "VGG16_Weights.IMAGENET1K_V1"),
        ]
    )
    table = training_class_table(metrics, "convnext_n")
    assert list(table.index) == ["draw 0", "draw 1", "Mean"]
    assert list(table.columns) == [20, 200, "1000 (convnext_tiny, pretrained)"]
    np.testing.assert_allclose(table[20], [44, 46, 45])
    np.testing.assert_allclose(table[200], [9, 11, 10])
    extra = table["1000 (convnext_tiny, pretrained)"]
    assert extra.iloc[0] == 23.47 and extra.iloc[1:].isna().all()
