"""Mining, the logits cache and the M sweep, on the real pieces at toy size."""

import json

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from robustsweep.attacks.adversarial_store import generate_store
from robustsweep.data.class_subsets import choose_trial_classes
from robustsweep.data.natural_adversarial import mine_natural_adversarial, read_natural_adversarial
from robustsweep.data.patterns import NATURAL_PATTERNS
from robustsweep.data.prepared_dataset import load_split
from robustsweep.evaluation.logits_cache import compute_logits
from robustsweep.evaluation.logits_file import TestSetLogits as SetLogits
from robustsweep.evaluation.logits_file import read_logits
from robustsweep.evaluation.run_evaluation import (
    attack_changes,
    evaluate_run,
    hybrid_sets,
    mixture_sets,
    sweep_rows,
)
from robustsweep.evaluation.white_box import attack_own_model
from robustsweep.models.inference import to_float
from robustsweep.models.trained_models import load_model
from robustsweep.stage_settings import MaskingChecks

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def natural(tmp_path_factory, digits_h5, trained_model):
    path = tmp_path_factory.mktemp("natural") / "natural.h5"
    mine_natural_adversarial(
        path, digits_h5, trained_model, NATURAL_PATTERNS.names(), 0.7, 1, 0, CPU
    )
    return path


@pytest.fixture(scope="module")
def logits(tmp_path_factory, digits_h5, trained_model, natural):
    folder = tmp_path_factory.mktemp("logits")
    store = folder / "fgsm.h5"
    generate_store(
        store, digits_h5, "test", trained_model, "fgsm", {"method": "fgsm", "eps": 0.1}, 128, 0, CPU
    )
    compute_logits(
        folder / "logits.h5",
        trained_model,
        digits_h5,
        natural,
        {"fgsm": store},
        CPU,
        masking=MaskingChecks.from_section({"huge_eps": 1.0, "steps": 10}),
    )
    pgd = {"method": "pgd", "eps": 0.1, "alpha": 0.025, "steps": 10}
    white_box = {"pgd": folder / "white_box" / "pgd.h5"}
    attack_own_model(white_box["pgd"], trained_model, digits_h5, "pgd", pgd, 256, 0, CPU)
    return folder / "logits.h5", white_box


def test_mined_set_keeps_exactly_the_surrogate_mistakes(natural, digits_h5, trained_model):
    mined = read_natural_adversarial(natural)
    model, _ = load_model(trained_model)
    with torch.no_grad():
        pred = model(to_float(mined["images"], CPU)).argmax(1).numpy()
    assert len(pred) > 0
    assert np.all(pred != mined["label"])
    with h5py.File(natural) as h5:
        counts = json.loads(h5.attrs["counts"])
    pool = load_split(digits_h5, "pool")
    assert sum(counts["candidates"].values()) == len(pool.labels) * len(NATURAL_PATTERNS.names())
    assert sum(counts["kept"].values()) == len(pred)
    assert set(mined["pattern"]) <= set(NATURAL_PATTERNS.names())
    pool_label = dict(zip(pool.indices.tolist(), pool.labels.tolist(), strict=True))
    assert all(
        pool_label[i] == y for i, y in zip(mined["clean_index"], mined["label"], strict=True)
    )


def test_logits_cache_holds_every_test_set(logits, digits_h5):
    sets, attrs = read_logits(*logits)
    assert set(sets) == {"clean", "natural", "attack-fgsm", "white_box-pgd"}
    clean = load_split(digits_h5, "test")
    np.testing.assert_array_equal(sets["clean"].index, clean.indices)
    np.testing.assert_array_equal(sets["white_box-pgd"].index, clean.indices)  # all 10 classes
    np.testing.assert_array_equal(sets["white_box-pgd"].labels, clean.labels)
    assert sets["natural"].index is None
    assert attrs["class_ids"] == list(range(10))
    assert sets["clean"].logits.shape == (len(load_split(digits_h5, "test").labels), 10)
    assert sets["natural"].patterns is not None and sets["clean"].patterns is None
    # transfer sets carry their store's attack, as white-box sets do
    assert sets["attack-fgsm"].spec == {"method": "fgsm", "eps": 0.1}
    assert sets["white_box-pgd"].spec["method"] == "pgd" and sets["clean"].spec is None


def test_white_box_set_reports_its_success_against_the_run(logits, digits_h5, trained_model):
    from robustsweep.attacks.success_report import read_report

    report = read_report(logits[1]["pgd"])
    sets, _ = read_logits(*logits)
    clean, attacked = sets["clean"], sets["white_box-pgd"]
    correct = clean.logits.argmax(1) == clean.labels
    assert report["group"] == "white_box-pgd" and report["n_attacked"] == correct.sum()
    # float64 on both sides (numpy means of the same 0/1 values): approx's default rel 1e-6
    assert report["clean_accuracy"] == pytest.approx(correct.mean())
    rounded = (attacked.logits.argmax(1) != attacked.labels)[correct].mean()
    assert report["success_rounded"] == pytest.approx(rounded) and rounded > 0.95
    assert report["budget_norm"] == "Linf" and report["linf_max"] <= 0.1
    with h5py.File(logits[1]["pgd"]) as h5:
        images = h5["white_box-pgd/images"][()]
    delta = np.abs(images.astype(int) - load_split(digits_h5, "test").images.astype(int))
    # float64 k / 255 on both sides
    assert report["linf_max"] == pytest.approx(delta.max() / 255) and delta.max() == 25


def test_white_box_logits_from_the_success_report_equal_a_fresh_forward_pass(logits, trained_model):
    # the white-box file keeps the success report's logits on the stored images (repaired
    # rows included) instead of running the model over them again
    from robustsweep.models.inference import forward

    with h5py.File(logits[1]["pgd"]) as h5:
        images, stored = h5["white_box-pgd/images"][()], h5["white_box-pgd/logits"][()]
    model, _ = load_model(trained_model)
    fresh = forward(model, images, CPU)
    assert stored.dtype == np.float32 and stored.shape == fresh.shape
    # float32 logits of the same model and images, computed in other batch sizes (regrouped sums):
    # 1e-5 is ~100 ulps of these O(1) logits
    np.testing.assert_allclose(stored, fresh, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(stored.argmax(1), fresh.argmax(1))


def test_m_sweep_is_derived_from_cached_logits(logits, tmp_path):
    out = tmp_path / "metrics.csv"
    run = {"model": "small_cnn", "train_classes": 10, "draw": 0, "defence": "standard"}
    evaluate_run(
        out,
        logits[0],
        run,
        white_box=logits[1],
        predicted_classes=[2, 5],
        trials=2,
        evaluation_seed=0,
    )
    table = pd.read_csv(out)
    sets, _ = read_logits(*logits)
    overall = table[table.pattern == "all"]
    # per test set: M=2 x 2 trials, M=5 x 2 trials, M=10 once
    assert overall.groupby("test_set").size().to_dict() == {
        "attack-fgsm": 5,
        "clean": 5,
        "natural": 5,
        "white_box-pgd": 5,
        "worst-all": 5,  # right under both attacks, per image (test_worst_case.py)
    }
    full = overall[(overall.predicted_classes == 10)].set_index("test_set")
    for name, data in sets.items():
        expected = np.mean(data.logits.argmax(1) == data.labels)
        # shares of whole images written to metrics.csv and read back: float64 rounding only
        assert full.loc[name, "accuracy"] == pytest.approx(expected, abs=1e-6)
    assert full.loc["natural", "accuracy"] == 0  # the surrogate is wrong on all of it
    assert full.loc["clean", "accuracy"] > full.loc["attack-fgsm", "accuracy"]
    row = overall[
        (overall.test_set == "clean") & (overall.predicted_classes == 5) & (overall.trial == 1)
    ].iloc[0]
    chosen = choose_trial_classes(list(range(10)), 5, 0, 1)
    data = sets["clean"]
    keep = np.isin(data.labels, chosen)
    pred = np.asarray(chosen)[data.logits[keep][:, chosen].argmax(1)]
    # shares of whole images written to metrics.csv and read back: float64 rounding only
    assert row.accuracy == pytest.approx(np.mean(pred == data.labels[keep]), abs=1e-6)
    assert row.n_images == keep.sum()
    patterns = table[table.pattern != "all"]
    assert (
        set(patterns.pattern) <= set(NATURAL_PATTERNS.names())
        and (patterns.test_set == "natural").all()
    )
    assert (table.model == "small_cnn").all() and table.parameters.iloc[0] > 0


def test_white_box_pgd_beats_fgsm_and_consistency_counts_unchanged_predictions(logits, tmp_path):
    out = tmp_path / "metrics.csv"
    run = {"model": "small_cnn", "train_classes": 10, "draw": 0, "defence": "standard"}
    evaluate_run(
        out, logits[0], run, white_box=logits[1], predicted_classes=[], trials=1, evaluation_seed=0
    )
    table = pd.read_csv(out)
    full = table[(table.pattern == "all") & (table.predicted_classes == 10)].set_index("test_set")
    # the store's surrogate is this very model, so its FGSM set is white-box FGSM too
    assert full.loc["white_box-pgd", "accuracy"] <= full.loc["attack-fgsm", "accuracy"]
    sets, _ = read_logits(*logits)
    clean, attacked = sets["clean"], sets["attack-fgsm"]
    row_of = {int(i): k for k, i in enumerate(clean.index)}
    before = clean.logits[[row_of[int(i)] for i in attacked.index]].argmax(1)
    expected = np.mean(attacked.logits.argmax(1) == before)
    # shares of whole images written to metrics.csv and read back: float64 rounding only
    assert full.loc["attack-fgsm", "consistency"] == pytest.approx(expected, abs=1e-6)
    assert 0 < expected < 1
    assert np.isnan(full.loc["clean", "consistency"]) and np.isnan(
        full.loc["natural", "consistency"]
    )


def test_every_row_carries_the_runs_masking_checks(logits, tmp_path):
    out = tmp_path / "metrics.csv"
    run = {"model": "small_cnn", "train_classes": 10, "draw": 0, "defence": "standard"}
    evaluate_run(
        out, logits[0], run, white_box=logits[1], predicted_classes=[], trials=1, evaluation_seed=0
    )
    table = pd.read_csv(out, keep_default_na=False)
    assert table.zero_gradient_fraction.nunique() == 1 and table.huge_eps_accuracy.nunique() == 1
    assert table.huge_eps_accuracy.iloc[0] < 0.1  # a plain model falls at eps = 1
    assert (table.masking_flags == "").all()
    assert table.detector_accuracy.eq("").all()  # no detector head: left empty


def test_hybrid_mixtures_swap_the_same_seeded_rows_for_every_attack(logits, tmp_path):
    sets, _ = read_logits(*logits)
    clean, fgsm = sets["clean"], sets["attack-fgsm"]
    # a second attack whose rows are stored in another order: mixing must align by dataset row
    order = np.random.default_rng(0).permutation(len(fgsm.labels))
    shuffled = SetLogits(-fgsm.logits[order], fgsm.labels[order], None, fgsm.index[order])
    mixtures = hybrid_sets({**sets, "attack-other": shuffled}, [0.03, 0.05, 0.1], seed=0)
    n = len(clean.labels)
    for percent, fraction in ((3, 0.03), (5, 0.05), (10, 0.1)):
        mixed, other = mixtures[f"hybrid-fgsm-{percent}pct"], mixtures[f"hybrid-other-{percent}pct"]
        assert mixed.adversarial.sum() == round(fraction * n)
        np.testing.assert_array_equal(mixed.adversarial, other.adversarial)
        row = {int(i): k for k, i in enumerate(fgsm.index)}
        for k in range(n):
            source = (
                fgsm.logits[row[int(clean.index[k])]] if mixed.adversarial[k] else clean.logits[k]
            )
            np.testing.assert_array_equal(mixed.logits[k], source)
            if mixed.adversarial[k]:
                np.testing.assert_array_equal(other.logits[k], -source)
        np.testing.assert_array_equal(mixed.labels, clean.labels)
    assert not np.array_equal(
        mixtures["hybrid-fgsm-3pct"].adversarial,
        hybrid_sets(sets, [0.03], 1)["hybrid-fgsm-3pct"].adversarial,
    )


def test_named_mixture_swaps_its_fraction_in_equal_attack_shares(logits):
    sets, _ = read_logits(*logits)
    clean, fgsm = sets["clean"], sets["attack-fgsm"]
    order = np.random.default_rng(1).permutation(len(fgsm.labels))
    other = SetLogits(-fgsm.logits[order], fgsm.labels[order], None, fgsm.index[order])
    sets = {**sets, "attack-other": other}
    spec = {"fraction": 0.5, "attacks": ["fgsm", "other"]}
    mixed = mixture_sets(sets, {"half": spec}, seed=0)["mix-half"]
    n = len(clean.labels)
    assert mixed.adversarial.sum() == round(n / 2)
    row = {int(i): k for k, i in enumerate(fgsm.index)}
    from_fgsm = from_other = 0
    for k in range(n):
        if not mixed.adversarial[k]:
            np.testing.assert_array_equal(mixed.logits[k], clean.logits[k])
            continue
        source = fgsm.logits[row[int(clean.index[k])]]
        if np.array_equal(mixed.logits[k], source):
            from_fgsm += 1
        else:
            np.testing.assert_array_equal(mixed.logits[k], -source)
            from_other += 1
    assert abs(from_fgsm - from_other) <= 1  # equal shares
    # drawn once per study: the same rows for any model, other rows under another name
    again = mixture_sets(sets, {"half": spec}, seed=0)["mix-half"]
    np.testing.assert_array_equal(again.adversarial, mixed.adversarial)
    renamed = mixture_sets(sets, {"other_half": spec}, seed=0)["mix-other_half"]
    assert not np.array_equal(renamed.adversarial, mixed.adversarial)


def test_hybrid_rows_appear_in_the_run_metrics(logits, tmp_path):
    out = tmp_path / "metrics.csv"
    run = {"model": "small_cnn", "train_classes": 10, "draw": 0, "defence": "standard"}
    evaluate_run(
        out,
        logits[0],
        run,
        white_box=logits[1],
        predicted_classes=[],
        trials=1,
        evaluation_seed=0,
        hybrid_fractions=[0.1],
    )
    table = pd.read_csv(out)
    parts = table[table.test_set == "hybrid-fgsm-10pct"].set_index("pattern")
    full = table[table.pattern == "all"].set_index("test_set")
    assert (
        parts.loc["real", "n_images"] + parts.loc["adversarial", "n_images"]
        == (parts.loc["all", "n_images"])
    )
    assert parts.loc["adversarial", "accuracy"] < parts.loc["real", "accuracy"]
    # 10 % adversarial images cost about 10 % of the clean accuracy's difference to the attack
    expected = 0.9 * full.loc["clean", "accuracy"] + 0.1 * full.loc["attack-fgsm", "accuracy"]
    # the 10 % swapped are a seeded draw of 36 of the 360 images: the mixture differs from the
    # average by 0.1 x that draw's sampling error (sd below 0.01), so 0.04 is over 4 sd
    assert full.loc["hybrid-fgsm-10pct", "accuracy"] == pytest.approx(expected, abs=0.04)
    assert full.loc["hybrid-fgsm-10pct", "consistency"] > full.loc["attack-fgsm", "consistency"]


def test_detector_accuracy_scores_clean_as_real_and_mixtures_by_their_labels():
    labels = np.array([0, 1, 0, 1])
    logits = np.eye(2)[labels].astype(np.float32)
    score = np.array([0.1, 0.7, 0.9, 0.2])  # called adversarial: rows 1 and 2
    clean = SetLogits(logits, labels, None, np.arange(4), score)
    (row,) = sweep_rows("clean", clean, [0, 1], [], 1, 0)
    assert row["detector_accuracy"] == 0.5
    (row,) = sweep_rows("attack-x", clean, [0, 1], [], 1, 0)
    assert row["detector_accuracy"] == 0.5
    mixed = SetLogits(logits, labels, None, np.arange(4), score, None, np.array([0, 1, 1, 0], bool))
    (row,) = sweep_rows("hybrid-x-50pct", mixed, [0, 1], [], 1, 0)
    assert row["detector_accuracy"] == 1.0
    (row,) = sweep_rows("clean", SetLogits(logits, labels, None, np.arange(4)), [0, 1], [], 1, 0)
    assert np.isnan(row["detector_accuracy"])


def test_low_confidence_filter_keeps_only_unsure_mistakes(
    tmp_path, natural, digits_h5, trained_model
):
    path = tmp_path / "unsure.h5"
    patterns = ["fog", "viewing_angle"]
    mine_natural_adversarial(path, digits_h5, trained_model, patterns, 0.7, 1, 0, CPU, 0.5)
    with h5py.File(path) as h5:
        confidence = h5["reference_confidence"][()]
        assert h5.attrs["max_confidence"] == 0.5
    with h5py.File(natural) as h5:
        every_mistake = h5["reference_confidence"][()][
            np.isin(h5["pattern"][()].astype(str), patterns)
        ]
    assert len(confidence) > 0 and confidence.max() <= 0.5
    assert len(confidence) == int((every_mistake <= 0.5).sum())


def test_attack_changes_pair_each_attacked_image_with_its_clean_version():
    classes = [0, 1, 2]
    labels = np.array([0, 1, 2, 0, 5])  # class 5 is not the run's: left out
    eye = np.eye(3)
    clean = SetLogits(eye[[0, 1, 0, 1, 0]], labels, None, np.array([10, 11, 12, 13, 14]))
    # the attacked set lists the same images in another order (rows 13, 12, 11, 10, 14)
    attacked = SetLogits(
        eye[[0, 0, 0, 0, 1]], labels[[3, 2, 1, 0, 4]], None, np.array([13, 12, 11, 10, 14])
    )
    whitebox = SetLogits(eye[[0, 1, 2, 0, 0]], labels, None, clean.index)
    sets = {"clean": clean, "attack-x": attacked, "white_box-y": whitebox, "natural": clean}
    # attack-x: image 13 made right, 11 made wrong, 10 kept right, 12 kept wrong
    assert attack_changes(sets, classes) == {"attack-x": (1, 1), "white_box-y": (2, 0)}


def test_corrupted_set_is_scored_per_corruption_and_severity(
    tmp_path, digits_h5, trained_model, natural
):
    from robustsweep.data.corruption_set import write_corruption_set
    from robustsweep.models.feature_map_cost import feature_map_cost

    corrupted = tmp_path / "corruptions.h5"
    names = ["gaussian_noise", "contrast"]
    spec = {"source": "imagecorruptions", "names": names, "severities": [1, 5]}
    write_corruption_set(corrupted, digits_h5, spec, seed=0)
    cache = tmp_path / "logits.h5"
    compute_logits(cache, trained_model, digits_h5, natural, {}, CPU, corrupted=corrupted)
    sets, attrs = read_logits(cache)
    data = sets["corrupted"]
    clean = load_split(digits_h5, "test")
    assert len(data.labels) == 4 * len(clean.labels)
    np.testing.assert_array_equal(data.index, np.tile(clean.indices, 4))
    model, _ = load_model(trained_model)
    expected_cost = feature_map_cost(model, 16, CPU)
    assert attrs["activation_elements"] == expected_cost.activation_elements
    assert attrs["feature_map"] == expected_cost.feature_map == "4x4"
    epoch_log = tmp_path / "epochs.csv"
    epoch_log.write_text("epoch,loss,accuracy,lr,seconds\n0,1.5,0.4,0.01,1\n1,0.25,0.93,0.01,1\n")
    out = tmp_path / "metrics.csv"
    run = {"model": "small_cnn", "train_classes": 10, "draw": 0, "defence": "standard"}
    evaluate_run(out, cache, run, [], 1, 0, epoch_log=epoch_log)
    table = pd.read_csv(out)
    assert (table.epochs == 2).all() and (table.train_loss == 0.25).all()
    assert (table.train_accuracy == 0.93).all()
    rows = table[table.test_set == "corrupted"]
    cells = rows[rows.severity.notna()].set_index(["pattern", "severity"]).accuracy
    assert set(cells.index) == {(name, s) for name in names for s in (1.0, 5.0)}
    right = data.logits.argmax(1) == data.labels
    for (name, severity), accuracy in cells.items():
        mask = (data.patterns == name) & (data.severity == severity)
        # shares of whole images written to metrics.csv and read back: float64 rounding only
        assert accuracy == pytest.approx(right[mask].mean(), abs=1e-6)
    pooled = rows[rows.severity.isna() & (rows.pattern != "all")].set_index("pattern").accuracy
    for name in names:
        # shares of whole images, float64 rounding only
        assert pooled[name] == pytest.approx(right[data.patterns == name].mean(), abs=1e-6)
    # the heaviest noise costs more accuracy than the lightest
    assert cells[("gaussian_noise", 5.0)] < cells[("gaussian_noise", 1.0)]
    assert table[table.test_set != "corrupted"].severity.isna().all()


def test_worst_case_rows_and_per_image_record_agree_and_cost_no_pass(logits, tmp_path):
    """worst-all (store FGSM and white-box PGD) in metrics.csv is the per-image minimum of
    the per-image record's columns, and never above either set's robust accuracy."""
    out, per_image = tmp_path / "metrics.csv", tmp_path / "per_image.csv"
    run = {"model": "small_cnn", "train_classes": 10, "draw": 0, "defence": "standard"}
    evaluate_run(
        out,
        logits[0],
        run,
        white_box=logits[1],
        predicted_classes=[4],
        trials=2,
        evaluation_seed=0,
        per_image=per_image,
    )
    table = pd.read_csv(out)
    full = table[(table.pattern == "all") & (table.predicted_classes == 10)].set_index("test_set")
    record = pd.read_csv(per_image)
    assert list(record.columns[:3]) == ["index", "label", "clean"]
    both = record[["attack-fgsm", "white_box-pgd"]].min(axis=1)
    assert (record["worst-all"] == both).all()
    # shares of whole images written to metrics.csv and read back: float64 rounding only
    assert full.loc["worst-all", "accuracy"] == pytest.approx(both.mean(), abs=1e-6)
    assert full.loc["worst-all", "n_images"] == len(record)
    for name in ("attack-fgsm", "white_box-pgd"):
        # shares of whole images, float64 rounding only
        assert full.loc[name, "accuracy"] == pytest.approx(record[name].mean(), abs=1e-6)
        assert full.loc["worst-all", "accuracy"] <= full.loc[name, "accuracy"]
    below = table[(table.test_set == "worst-all") & (table.predicted_classes == 4)]
    assert len(below) == 2 and below.accuracy.notna().all()


def test_budget_sweep_rows_join_the_white_box_point_and_pass_the_masking_check(
    logits, digits_h5, trained_model, tmp_path
):
    from robustsweep.evaluation.budget_sweep import sweep_logits

    model, card = load_model(trained_model)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    split = load_split(digits_h5, "test")
    own = np.isin(split.labels, card.class_ids)
    pgd = {"method": "pgd", "eps": 0.1, "alpha": 0.025, "steps": 10}
    (values,) = sweep_logits(
        model, card.class_ids, split.images[own], split.labels[own], pgd, [0.3], 256, 0, CPU
    ).values()
    path = tmp_path / "budget_sweep.h5"
    with h5py.File(path, "w") as h5:
        group = h5.create_group("eps-0")
        group.create_dataset("logits", data=values)
        group.create_dataset("label", data=split.labels[own])
        group.create_dataset("index", data=split.indices[own])
        group.attrs["eps"] = 0.3
        h5.attrs["attack"] = "pgd"
    out = tmp_path / "metrics.csv"
    run = {"model": "small_cnn", "train_classes": 10, "draw": 0, "defence": "standard"}
    evaluate_run(
        out, logits[0], run, [], 1, 0, white_box=logits[1], budget_sweep=path,
        budget_max_accuracy=0.1,
    )  # fmt: skip
    table = pd.read_csv(out)
    sweep = table[table.test_set == "budget-pgd"].set_index("severity")
    full = table[(table.pattern == "all") & (table.predicted_classes == 10)].set_index("test_set")
    assert sweep.index.tolist() == [0.0, 0.1, 0.3]
    # the same float64 share by two routes
    assert sweep.loc[0.0, "accuracy"] == pytest.approx(full.loc["clean", "accuracy"], abs=1e-6)
    assert sweep.loc[0.1, "accuracy"] == pytest.approx(full.loc["white_box-pgd", "accuracy"])
    assert sweep.loc[0.3, "accuracy"] <= 0.1  # a plain model falls to 0: no flag
    assert table.masking_flags.isna().all()  # empty: no check failed
