"""xu2024's robust accuracy against the feature-map size: which runs the curve is drawn from."""

import pandas as pd

from robustsweep.reporting.figures import draw_figure
from robustsweep.reporting.figures.accuracy_vs_feature_map import map_side, sweep_rows
from robustsweep.stage_settings import FigureStyle


def sweep_metrics() -> pd.DataFrame:
    """ResNet-18 at x1-x4 upsampling (maps 4 to 16) under AT, and a VGG seen at one size."""
    rows = []
    models = [("r18", "resnet18", "4x4"), ("r18_up2", "resnet18", "8x8"),
              ("r18_up3", "resnet18", "12x12"), ("r18_up4", "resnet18", "16x16"),
              ("vgg", "vgg16_bn", "1x1")]  # fmt: skip
    for model, architecture, feature_map in models:
        for draw in (0, 1):
            for test_set in ("clean", "white_box-pgd", "attack-fgsm", "natural"):
                rows.append(
                    {"model": model, "architecture": architecture, "feature_map": feature_map,
                     "train_classes": 10, "draw": draw, "defence": "at", "test_set": test_set,
                     "pattern": "all", "predicted_classes": 10, "trial": 0,
                     "accuracy": 0.4 + 0.01 * int(feature_map.split("x")[0])}
                )  # fmt: skip
    return pd.DataFrame(rows)


def test_map_side_reads_the_recorded_map():
    assert map_side("8x8") == 8 and map_side("12x12") == 12
    assert pd.isna(map_side("")) and pd.isna(map_side("nan"))


def test_the_sweep_keeps_clean_and_white_box_rows_of_architectures_at_several_sizes():
    rows = sweep_rows(sweep_metrics())
    assert set(rows.architecture) == {"resnet18"}  # the VGG has one map size: no curve
    assert set(rows.test_set) == {"clean", "white_box-pgd"}
    assert sorted(rows.map_side.unique()) == [4, 8, 12, 16]
    assert len(rows) == 4 * 2 * 2  # sizes x draws x test sets


def test_the_figure_is_drawn_for_a_sweep_and_a_placeholder_without_one(tmp_path):
    style = FigureStyle.from_section({"dpi": 40})
    table = tmp_path / "metrics.csv"
    sweep_metrics().to_csv(table, index=False)
    drawn = tmp_path / "sweep.png"
    draw_figure("accuracy_vs_feature_map", table, drawn, style)
    without = sweep_metrics().query("architecture == 'vgg16_bn'")
    without.to_csv(table, index=False)
    placeholder = tmp_path / "none.png"
    draw_figure("accuracy_vs_feature_map", table, placeholder, style)
    assert drawn.stat().st_size > placeholder.stat().st_size > 0
