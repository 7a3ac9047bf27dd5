"""Every figure is drawn from the tidy table, also for a study that gives it nothing to plot."""

import pandas as pd
import pytest

from robustsweep.reporting.figures import FIGURES, draw_figure, reads
from robustsweep.reporting.figures.parameters_vs_accuracy import architecture_family
from robustsweep.stage_settings import FigureStyle

STYLE = FigureStyle.from_section({"dpi": 40})


def metrics_of(defences: list[str]) -> pd.DataFrame:
    """A small tidy table: one all-class run per defence, clean and natural, M = 2 and 4."""
    rows = []
    for defence in defences:
        for test_set in ("clean", "natural", "attack-fgsm"):
            for m in (2, 4):
                rows.append(
                    {
                        "model": "cnn",
                        "train_classes": 4,
                        "draw": 0,
                        "defence": defence,
                        "parameters": 1000,
                        "architecture": "small_cnn",
                        "test_set": test_set,
                        "pattern": "all",
                        "predicted_classes": m,
                        "trial": 0,
                        "accuracy": 0.5,
                        "auc": 0.7,
                        "ap": 0.6,
                        # per epoch [epoch, clean, PGD, FGSM] (evaluation/checkpoint_summary.py)
                        "validation_curve": "[[0, 0.5, 0.2, 0.3], [1, 0.6, null, null]]",
                    }
                )
        for eps, accuracy in ((0.0, 0.9), (0.1, 0.4), (0.3, 0.0)):  # a budget sweep's rows
            rows.append(
                rows[0]
                | {"defence": defence, "test_set": "budget-pgd", "pattern": f"eps {eps:g}"}
                | {"predicted_classes": 4, "severity": eps, "accuracy": accuracy}
            )
    return pd.DataFrame(rows)


def attacks_of(origins: list[str]) -> pd.DataFrame:
    """A small attack table (reporting/attack_table.py): one FGSM set of each origin."""
    return pd.DataFrame(
        [
            {"origin": origin, "split": "test", "attack": "fgsm", "method": "fgsm", "model": "cnn",
             "train_classes": 4, "draw": 0, "defence": "standard", "success_float": 0.9,
             "success_rounded": 0.8}
            for origin in origins
        ],
        columns=["origin", "split", "attack", "method", "model", "train_classes", "draw",
                 "defence", "success_float", "success_rounded"],
    )  # fmt: skip


@pytest.mark.parametrize("defences", [["standard", "pgd_at"], ["pgd_at", "trades"]])
@pytest.mark.parametrize("name", FIGURES.names())
def test_every_figure_is_drawn_with_or_without_standard_runs(tmp_path, name, defences):
    table = tmp_path / "table.csv"
    if reads(name) == "attacks":  # drawn from the attack table: with and without sets
        attacks_of(["store", "white_box"] if "standard" in defences else []).to_csv(table)
    else:
        metrics_of(defences).to_csv(table, index=False)
    draw_figure(name, table, tmp_path / "figure.png", STYLE)
    assert (tmp_path / "figure.png").read_bytes()[:4] == b"\x89PNG"
    has_data = FIGURES.get(name).target(pd.read_csv(table)) is not None
    # the robust-accuracy, budget and validation figures plot every defence, the rest standard
    # runs only
    drawn_for_any_defence = ("robust_accuracy", "budget_sweep", "validation_curves")
    expected = "standard" in defences or name in drawn_for_any_defence
    if name == "accuracy_vs_feature_map":  # no map sizes here (test_feature_map_figure.py)
        expected = False
    assert has_data == expected


@pytest.mark.parametrize(
    "architecture, family",
    [
        ("resnet101", "resnet"),
        ("vgg19_bn", "vgg"),
        ("efficientnet_b3", "efficientnet"),
        ("mobilenet_v3_small", "mobilenet_v3"),
        ("convnext_large", "convnext"),
        ("shufflenet_v2_x0_5", "shufflenet_v2"),
        ("repvgg_a2", "repvgg"),
        ("timm:vit_small_patch16_224", "vit"),
        ("small_cnn", "small_cnn"),
    ],
)
def test_sizes_of_one_family_share_a_line(architecture, family):
    assert architecture_family(architecture) == family


def test_figures_draw_the_tables_logit_t_interval_over_draws_inside_0_and_100():
    from robustsweep.reporting.spread import spread

    values = [0.02, 0.10, 0.30]  # the plain t-interval would reach below 0
    rows = metrics_of(["standard"])
    rows = pd.concat([rows.assign(draw=d, accuracy=v) for d, v in enumerate(values)])
    grid = FIGURES.get("robust_accuracy").target(rows)
    spans = sorted(
        tuple(sorted(line.get_ydata()))
        for line in grid.ax.lines
        if len(line.get_ydata()) == 2 and line.get_ydata()[0] != line.get_ydata()[1]
    )
    interval = spread([v * 100 for v in values], bounds=(0.0, 100.0))
    assert spread([v * 100 for v in values]).low < 0
    assert interval.low > 0 and interval.high < 100
    assert spans and all(span == pytest.approx((interval.low, interval.high)) for span in spans)


def test_validation_curves_plot_each_measure_per_epoch():
    from robustsweep.reporting.figures.validation_curves import validation_points

    points = validation_points(metrics_of(["pgd_at"]))
    # one run: clean at epochs 0 and 1, PGD and FGSM at epoch 0 only (null: not measured)
    assert sorted(zip(points.epoch, points.measure, points["accuracy (%)"], strict=True)) == [
        (0, "FGSM", 30.0), (0, "PGD", 20.0), (0, "clean", 50.0), (1, "clean", 60.0)
    ]  # fmt: skip
