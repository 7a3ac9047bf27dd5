"""The worst case over attacks, per image (evaluation/worst_case.py), on hand-made logits."""

import numpy as np
import pandas as pd
import pytest

from robustsweep.data.class_subsets import choose_trial_classes
from robustsweep.evaluation.logits_file import TestSetLogits as SetLogits
from robustsweep.evaluation.run_evaluation import all_worst_case_rows, sweep_rows
from robustsweep.evaluation.worst_case import (
    per_image_table,
    worst_case_groups,
    worst_case_rows,
)

CLASSES = [0, 1, 2]


def one_hot_logits(predicted: list[int]) -> np.ndarray:
    """Logits whose argmax is `predicted` (class ids 0..2), margin 1."""
    logits = np.zeros((len(predicted), len(CLASSES)), np.float32)
    logits[np.arange(len(predicted)), predicted] = 1.0
    return logits


def hand_made_sets() -> dict[str, SetLogits]:
    """Six images (dataset rows 10..15); the clean set gets five right. Attack A breaks images
    11 and 12, attack B breaks 12 and 13 and changes wrong image 15 to another wrong class:
    right under both = {10, 14}; unchanged under both = {10, 14} (11, 12, 13 changed, 15 by B)."""
    labels = np.array([0, 1, 2, 0, 1, 2])
    index = np.arange(10, 16)
    clean = SetLogits(one_hot_logits([0, 1, 2, 0, 1, 0]), labels, None, index)
    attack_a = SetLogits(one_hot_logits([0, 0, 0, 0, 1, 0]), labels, None, index)
    # B holds the images in another order: alignment is by dataset row, not position
    order = [5, 4, 3, 2, 1, 0]
    b_pred = np.array([0, 1, 1, 2, 1, 1])
    attack_b = SetLogits(one_hot_logits(b_pred[order]), labels[order], None, index[order])
    return {"clean": clean, "attack-a": attack_a, "white_box-b": attack_b}


def test_worst_case_of_two_sets_is_the_per_image_minimum_and_never_above_either():
    sets = hand_made_sets()
    (row,) = worst_case_rows(
        "worst-all", [sets["attack-a"], sets["white_box-b"]], sets["clean"], CLASSES, [], 1, 0
    )
    # by hand (docstring of hand_made_sets): right under both on 2 of 6 images
    assert row["accuracy"] == pytest.approx(2 / 6, abs=1e-12)
    assert row["consistency"] == pytest.approx(2 / 6, abs=1e-12)
    assert row["n_images"] == 6
    singles = {
        name: sweep_rows(name, sets[name], CLASSES, [], 1, 0, sets["clean"])[0]
        for name in ("attack-a", "white_box-b")
    }
    assert singles["attack-a"]["accuracy"] == pytest.approx(3 / 6)
    assert singles["white_box-b"]["accuracy"] == pytest.approx(3 / 6)
    for single in singles.values():
        assert row["accuracy"] <= single["accuracy"]
        assert row["consistency"] <= single["consistency"]


def test_worst_case_matches_a_direct_per_image_minimum_for_every_m_and_trial():
    """Random logits of three sets over 8 classes; each (M, trial) row equals the share of
    the chosen classes' images that every set gets right (computed here directly), and is
    at most every single set's accuracy on the same row."""
    rng = np.random.default_rng(0)
    classes = list(range(8))
    n = 400
    labels = rng.integers(0, 8, n)
    index = rng.permutation(n) + 1000
    clean = SetLogits(rng.normal(size=(n, 8)) + 3 * np.eye(8)[labels], labels, None, index)
    sets = {"clean": clean}
    for name in ("attack-x", "attack-y", "white_box-z"):
        logits = clean.logits + rng.normal(scale=2.0, size=(n, 8))
        sets[name] = SetLogits(logits, labels, None, index)
    predicted_classes, trials = [2, 5], 3
    rows = all_worst_case_rows(
        sets, classes, predicted_classes, trials, 0, ("chosen_class_images",)
    )
    worst = pd.DataFrame(rows).set_index(["test_set", "predicted_classes", "trial"])
    assert set(worst.index.get_level_values(0)) == {"worst-store", "worst-all"}
    singles = {
        name: pd.DataFrame(
            sweep_rows(name, sets[name], classes, predicted_classes, trials, 0, clean)
        )
        for name in ("attack-x", "attack-y", "white_box-z")
    }
    for (group, m, trial), row in worst.iterrows():
        members = ["attack-x", "attack-y"] + (["white_box-z"] if group == "worst-all" else [])
        first = singles[members[0]]
        chosen_rows = first[(first.predicted_classes == m) & (first.trial == trial)]
        assert len(chosen_rows) == 1
        chosen = choose_trial_classes(classes, m, 0, trial)
        keep = np.isin(labels, chosen)
        right = np.ones(keep.sum(), bool)
        for name in members:
            restricted = sets[name].logits[keep][:, chosen]
            right &= np.asarray(chosen)[restricted.argmax(1)] == labels[keep]
        assert row["accuracy"] == pytest.approx(right.mean(), abs=1e-12)
        for name in members:
            single = singles[name]
            value = single[
                (single.predicted_classes == m) & (single.trial == trial)
            ].accuracy.item()
            assert row["accuracy"] <= value + 1e-12
        if m < len(classes):  # only the chosen-images protocol was asked for
            assert np.isnan(row["accuracy_all_images"])


def test_groups_need_two_sets_of_one_origin_or_one_of_each():
    assert worst_case_groups(["clean", "white_box-pgd", "natural"]) == {}
    assert worst_case_groups(["white_box-pgd", "attack-fgsm"]) == {
        "worst-all": ["white_box-pgd", "attack-fgsm"]
    }
    groups = worst_case_groups(["white_box-pgd", "white_box-fgsm", "attack-gn", "attack-cw"])
    assert groups == {
        "worst-white_box": ["white_box-fgsm", "white_box-pgd"],
        "worst-store": ["attack-cw", "attack-gn"],
        "worst-all": ["white_box-fgsm", "white_box-pgd", "attack-cw", "attack-gn"],
    }


def test_per_image_record_marks_each_image_right_or_wrong_under_each_attack():
    sets = hand_made_sets()
    # a third set that lacks image 15: its column and the groups it is in stay empty there
    short = SetLogits(
        sets["attack-a"].logits[:5], sets["attack-a"].labels[:5], None, np.arange(10, 15)
    )
    sets["attack-c"] = short
    table = per_image_table(sets, CLASSES).set_index("index")
    assert table.clean.tolist() == [1, 1, 1, 1, 1, 0]
    assert table["attack-a"].tolist() == [1, 0, 0, 1, 1, 0]
    assert table["white_box-b"].tolist() == [1, 1, 0, 0, 1, 0]
    assert table["worst-all"].loc[10:14].tolist() == [1, 0, 0, 0, 1]
    assert pd.isna(table.loc[15, "attack-c"]) and pd.isna(table.loc[15, "worst-all"])
    assert table["worst-store"].loc[10:14].tolist() == [1, 0, 0, 1, 1]
