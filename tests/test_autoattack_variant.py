"""The AutoAttack variant actually run is named wherever its numbers are (auto-attack#70, #76)."""

import h5py
import pandas as pd
import pytest
import torch

from robustsweep.attacks.methods import ATTACK_METHODS, build_attack
from robustsweep.attacks.success_report import read_report, summary_line, write_report
from robustsweep.reporting.attack_table import COLUMNS, variant_headers, variant_lines

SPEC = {"method": "autoattack", "eps": 0.1}
# torchattacks class -> auto-attack's name of the attack
NAMES = {"APGD": "apgd-ce", "APGDT": "apgd-t", "FAB": "fab-t", "Square": "square"}


@pytest.mark.parametrize(
    ("n_classes", "expected"),
    [
        (
            10,
            "AutoAttack standard, Linf: apgd-ce, apgd-t, fab-t, square; 9 target classes; "
            "square 5000 queries",
        ),
        (
            5,
            "AutoAttack standard adapted to 5 classes, Linf: apgd-ce, apgd-t, fab-t, square; "
            "4 target classes; square 5000 queries",
        ),
        (
            3,
            "AutoAttack standard adapted to 3 classes, Linf: apgd-ce, fab-t, square; "
            "2 target classes; square 5000 queries",
        ),
    ],
)
def test_variant_string_says_what_runs_for_3_5_and_10_classes(n_classes, expected):
    method = ATTACK_METHODS.build(SPEC)
    assert method.variant(n_classes) == expected
    # and it is what build_attack assembles (a linear model stands in for a network)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, n_classes)).eval()
    built = build_attack(model, SPEC, n_classes).attacks
    names = [NAMES[type(attack).__name__] for attack in built]
    assert ", ".join(names) in expected
    targeted = [a for a in built if type(a).__name__ in ("APGDT", "FAB")]
    assert {a.n_target_classes for a in targeted} == {min(9, n_classes - 1)}
    assert f"{min(9, n_classes - 1)} target classes" in expected


def test_other_attacks_have_no_variant():
    assert ATTACK_METHODS.build({"method": "pgd", "eps": 0.1}).variant(3) == ""


def test_variant_is_kept_in_the_success_report_and_the_log_line(tmp_path):
    report = {
        "n_images": 4,
        "n_attacked": 3,
        "repair_needed": 0,
        "repaired": 0,
        **dict.fromkeys(
            ["clean_accuracy", "success_float", "success_rounded", "linf_mean", "linf_median"],
            0.5,
        ),
        **dict.fromkeys(["linf_max", "l2_mean", "l2_median", "l2_max", "budget_eps"], 0.1),
        "budget_norm": "Linf",
        "baseline": False,
        "store_format": "uint8",
        "fooled_float": 2,
        "still_adversarial": 2,
        "variant": ATTACK_METHODS.build(SPEC).variant(5),
    }
    with h5py.File(tmp_path / "set.h5", "w") as h5:
        write_report(h5.create_group("white_box-autoattack"), report)
    assert read_report(tmp_path / "set.h5")["variant"] == report["variant"]
    assert "(AutoAttack standard adapted to 5 classes, Linf:" in summary_line("x", report)


def test_table_header_cell_and_note_name_the_variant():
    method = ATTACK_METHODS.build(SPEC)
    rows = [
        {
            "origin": "white_box",
            "split": "test",
            "attack": "autoattack",
            "variant": method.variant(5),
        },
        {"origin": "white_box", "split": "test", "attack": "pgd", "variant": ""},
        {"origin": "store", "split": "test", "attack": "autoattack", "variant": method.variant(10)},
    ]
    attacks = pd.DataFrame(rows, columns=COLUMNS)
    assert variant_headers(attacks) == {
        "white_box-autoattack": "white_box-autoattack (standard adapted to 5 classes, Linf)",
        "attack-autoattack": "attack-autoattack (standard, Linf)",
    }
    lines = variant_lines(attacks).splitlines()
    assert lines == [
        f"Variant of store `autoattack`: {method.variant(10)}.",
        f"Variant of white_box `autoattack`: {method.variant(5)}.",
    ]


def test_robust_accuracy_table_names_the_variant_in_its_header():
    from robustsweep.reporting.tables import TableContext
    from robustsweep.reporting.tables.robust_accuracy import robust_accuracy

    method = ATTACK_METHODS.build(SPEC)
    run = {"model": "cnn", "train_classes": 5, "draw": 0, "defence": "standard"}
    metrics = pd.DataFrame(
        [
            run | {"test_set": name, "pattern": "all", "predicted_classes": 5, "accuracy": value}
            for name, value in (("clean", 0.9), ("white_box-autoattack", 0.1), ("worst-all", 0.1))
        ]
    )
    attacks = pd.DataFrame(
        [
            {
                "origin": "white_box",
                "split": "test",
                "attack": "autoattack",
                "variant": method.variant(5),
            }
        ],
        columns=COLUMNS,
    )
    text = robust_accuracy(metrics, TableContext(5, attacks=attacks))
    assert "white_box-autoattack (standard adapted to 5 classes, Linf)" in text
    assert "worst-all" in text
