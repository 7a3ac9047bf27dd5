"""Paper-style tables from the tidy metrics: zhu2025's Table 2 with its 1000-class column."""

import numpy as np
import pandas as pd
import pytest

from robustsweep.reporting.tables.training_classes import training_class_table


def row(model, architecture, n, draw, accuracy, pretrained=""):
    return {
        "model": model,
        "architecture": architecture,
        "pretrained_weights": pretrained,
        "train_classes": n,
        "draw": draw,
        "defence": "standard",
        "test_set": "natural",
        "pattern": "all",
        "predicted_classes": n,
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
    # float64 on both sides: the default rtol 1e-7
    np.testing.assert_allclose(table[20], [44, 46, 45])
    np.testing.assert_allclose(table[200], [9, 11, 10])
    extra = table["1000 (convnext_tiny, pretrained)"]
    assert extra.iloc[0] == 23.47 and extra.iloc[1:].isna().all()


def run_rows(model, defence, draw, test_set, accuracy, **extra):
    """One all-class metric row at M = N (10 classes)."""
    return {
        "model": model,
        "train_classes": 10,
        "draw": draw,
        "defence": defence,
        "test_set": test_set,
        "pattern": extra.pop("pattern", "all"),
        "severity": extra.pop("severity", float("nan")),
        "predicted_classes": 10,
        "trial": 0,
        "accuracy": accuracy,
        **extra,
    }


def test_ho2024_table_2_prints_the_papers_columns_on_the_half_adversarial_split():
    from robustsweep.reporting.tables import TableContext
    from robustsweep.reporting.tables.clean_quality import clean_quality, table_2

    training = {"epochs": 53, "train_loss": 0.03, "train_accuracy": 0.9941}
    scores = {"precision": 0.953, "recall": 0.94, "loss": 0.21}
    metrics = pd.DataFrame(
        [
            run_rows("vgg19_bn", "hybrid", 0, "mix-half", 0.938, **training, **scores),
            run_rows("vgg19_bn", "hybrid", 0, "clean", 0.95, **training, **scores),
        ]
    )
    table = table_2(metrics, 10, "mix-half")
    assert list(table.columns) == [
        "Epochs",
        "L",
        "Acc in Training (%)",
        "Acc of Models (%)",
        "Precision (%)",
        "Recall (%)",
        "Test loss",
    ]
    # one run: the values themselves, L with the paper's precision
    assert table.loc[("vgg19_bn", "hybrid")].tolist() == [
        "53",
        "0.0300",
        "99.41",
        "93.80",
        "95.30",
        "94.00",
        "0.2100",
    ]
    text = clean_quality(metrics, TableContext(10))
    assert text.index("on mix-half") < text.index("on clean")  # the paper's split first
    assert "| 0.0300 |" in text  # printed as formatted, not re-read as a number


def test_table_2_spreads_over_draws_and_marks_separated_defences():
    from robustsweep.reporting.tables.clean_quality import table_2

    rows = []
    for draw, (plain, defended) in enumerate([(0.50, 0.80), (0.52, 0.82), (0.51, 0.81)]):
        common = {"epochs": 99, "train_loss": 0.1, "train_accuracy": 0.9}
        common |= {"precision": plain, "recall": plain, "loss": 1.0}
        rows.append(run_rows("r", "standard", draw, "mix-half", plain, **common))
        rows.append(run_rows("r", "hybrid", draw, "mix-half", defended, **common))
    table = table_2(pd.DataFrame(rows), 10, "mix-half")
    acc = table["Acc of Models (%)"]
    assert acc[("r", "standard")].startswith("51.00 ± 1.00 [")
    assert acc[("r", "hybrid")].endswith("†") and not acc[("r", "standard")].endswith("†")
    assert table.loc[("r", "hybrid"), "Epochs"] == "99"


def test_corruption_tables_average_severities_and_corruptions_per_run():
    from robustsweep.reporting.tables.corruption_accuracy import (
        corruption_summary,
        severity_table,
    )

    rows = []
    for draw in (0, 1):
        for name, base in (("fog", 0.8), ("gaussian_noise", 0.6)):
            for severity in (1, 5):
                accuracy = base - 0.1 * (severity == 5) + 0.02 * draw
                rows.append(
                    run_rows(
                        "r", "at", draw, "corrupted", accuracy, pattern=name, severity=severity
                    )
                )
            pooled = base - 0.05 + 0.02 * draw
            rows.append(run_rows("r", "at", draw, "corrupted", pooled, pattern=name))
    summary = corruption_summary(pd.DataFrame(rows), 10)
    # benchmark order (noise before weather), then the mean over the 2 x 2 cells of each run
    assert list(summary.columns) == ["gaussian_noise", "fog", "mean (2 corruptions)"]
    # per run: mean(0.8, 0.7, 0.6, 0.5) + 0.02 draw = 0.65, 0.67: mean 66, sd sqrt(2)
    assert summary.loc[("r", "at"), "mean (2 corruptions)"].startswith("66.00 ± 1.41 [")
    by_severity = severity_table(pd.DataFrame(rows), 10)
    assert by_severity.loc[("r", "at"), "severity 1"].startswith("71.00 ± 1.41")
    assert by_severity.loc[("r", "at"), "severity 5"].startswith("61.00 ± 1.41")


def test_feature_map_cost_table_is_relative_to_the_cheapest_model():
    from robustsweep.reporting.tables.feature_map_cost import feature_map_table

    metrics = pd.DataFrame(
        [
            {"model": "r18", "architecture": "resnet18", "feature_map": "4x4",
             "parameters": 11_173_962, "activation_elements": 1_851_914},
            {"model": "r18_1122", "architecture": "resnet18", "feature_map": "8x8",
             "parameters": 11_173_962, "activation_elements": 4_260_362},
        ]
    )  # fmt: skip
    table = feature_map_table(metrics)
    assert list(table.index) == ["r18", "r18_1122"]
    # the expected value is printed to two decimals
    assert table.loc["r18_1122", "Activations (x cheapest)"] == pytest.approx(2.30, abs=0.005)
    assert table.loc["r18", "Activation memory (MiB / image, fp32)"] == pytest.approx(
        1_851_914 * 4 / 2**20
    )
