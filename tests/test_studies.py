"""The paper studies under studies/: each full study plans the jobs its tables need, each
smoke overlay plans a trimmed version of it, and each runs end to end at smoke scale on the
digits (the study file plus its studies/smoke overlay, exactly as docs/studies.md says to run
them).

The end-to-end smoke runs (`study_smoke` marker) take 2.5 to 5 minutes each on 2 cores, most
of it the 6-12 s every job spends importing torch, so `make test` leaves them out to keep the
suite under 20 minutes and `make test-studies` runs them; the dry runs stay in `make test`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO, place_cifar_c, planned, snakemake_args, tool_env

STUDIES = REPO / "studies"
COMMON = {
    "prepare_dataset": 1,
    "mine_natural_adversarial": 1,
    "collect_metrics": 1,
    "collect_attacks": 1,
    "paper_tables": 1,
    "figure": 9,
    "study_record": 1,
    "all": 1,
}
FULL_STUDY_JOBS = {
    # 12 defences of ResNet-34 x 3 draws (the verdict's interval), whose draw-0 standard run
    # is also the surrogate (the authors' baseline), + 2 at ratio 0.25 (one draw); 6
    # attacks (NST included) over test and train splits; every run attacked white-box by each
    "tan2022": {
        "class_subset": 3,
        "train_model": 38,
        "adversarial_store": 12,
        "runs": 38,
        "white_box": 228,
    },
    # 5 architectures x (standard, hybrid) x 3 draws + the surrogate; 4 attacks over both splits
    "ho2024": {"class_subset": 4, "train_model": 31, "adversarial_store": 8, "runs": 30},
    # its binary reading: 5 architectures as detectors + the (10-class) source; the same store
    "ho2024_detector": {"class_subset": 2, "train_model": 6, "adversarial_store": 8, "runs": 5},
    # five seeds of: 11 stride/upsampling schemes (ResNet-18, PreActResNet-18, VGG16, AlexNet)
    # and the upsampling sweep's x3 and x4 (x1, x2 are schemes) under AT, the ViT at 1x and
    # 2x upsampling under AT, 2 max-pooling variants under AT, ResNet-18 at 1222 and 1122
    # under the 6 other defences (145 runs), + the source; test-split
    # stores only; every run attacked white-box by FGSM, PGD, DeepFool and AutoAttack; the
    # CIFAR-10-C release copied once
    "xu2024": {
        "class_subset": 6,
        "corruption_set": 1,
        "train_model": 146,
        "adversarial_store": 4,
        "runs": 145,
        "white_box": 580,
    },
    # the same on CIFAR-100 (and the CIFAR-100-C release)
    "xu2024_cifar100": {
        "class_subset": 6,
        "corruption_set": 1,
        "train_model": 146,
        "adversarial_store": 4,
        "runs": 145,
        "white_box": 580,
    },
    # 5 defences x 3 draws + the source; white-box FGSM, PGD, C&W and AutoAttack
    "xue2024": {
        "class_subset": 4,
        "train_model": 16,
        "adversarial_store": 4,
        "runs": 15,
        "white_box": 60,
    },
}


# study variants (studies/variants/<name>.yaml, added after the study): the study they vary
# and its plan; their changes (storage, test split) change no job count
VARIANTS = {"tan2022_jpeg": "tan2022", "tan2022_official_test": "tan2022"}


def expected_plan(study: str) -> dict[str, int]:
    counts = dict(FULL_STUDY_JOBS[VARIANTS.get(study, study)])
    runs = counts.pop("runs")
    return {**COMMON, **counts, "logits_cache": runs, "evaluate_run": runs}


@pytest.mark.parametrize("study", sorted(FULL_STUDY_JOBS))
def test_full_study_plans_the_jobs_of_the_papers_tables(study, tmp_path):
    # the default config.yaml in the working folder must not leak into a --configfile study
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    place_cifar_c(tmp_path)
    config = yaml.safe_load((STUDIES / f"{study}.yaml").read_text())
    assert planned(tmp_path, config) == expected_plan(study)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_study_variant_plans_the_jobs_of_its_study(variant, tmp_path):
    from snakemake.utils import update_config

    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    config = yaml.safe_load((STUDIES / f"{VARIANTS[variant]}.yaml").read_text())
    update_config(config, yaml.safe_load((STUDIES / "variants" / f"{variant}.yaml").read_text()))
    assert planned(tmp_path, config) == expected_plan(variant)


SMOKE_RUNS = {  # incl. the surrogate
    "tan2022": 5,
    "ho2024": 6,
    "ho2024_detector": 6,
    "xu2024": 11,
    "xue2024": 4,
}


@pytest.mark.parametrize("study", sorted(SMOKE_RUNS))
def test_smoke_overlay_trims_the_study_to_a_few_runs(study, tmp_path):
    plan = planned(tmp_path, smoke_config(study))
    assert plan["train_model"] == SMOKE_RUNS[study]
    assert plan["logits_cache"] == SMOKE_RUNS[study] - 1


def smoke_config(study: str) -> dict:
    """The study with its overlay merged on top, as Snakemake merges two --configfile's."""
    from snakemake.utils import update_config

    config = yaml.safe_load((STUDIES / f"{study}.yaml").read_text())
    update_config(config, yaml.safe_load((STUDIES / "smoke" / f"{study}.yaml").read_text()))
    return config


def run_smoke(study: str, workdir: Path, variant: str | None = None) -> Path:
    """The study (and a variant, studies/variants/<variant>.yaml) at smoke scale."""
    variants = [STUDIES / "variants" / f"{variant}.yaml"] if variant else []
    configs = [STUDIES / f"{study}.yaml", *variants, STUDIES / "smoke" / f"{study}.yaml"]
    command = snakemake_args(workdir, configs)
    # a hang guard, not a speed check: alone, the largest smoke takes about 10 minutes on 2
    # cores, and on a loaded machine more than twice that
    result = subprocess.run(command, capture_output=True, text=True, env=tool_env(), timeout=2400)
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir / "results" / f"{study}_smoke"


def full_rows(metrics: pd.DataFrame) -> pd.DataFrame:
    return metrics[
        (metrics.predicted_classes == metrics.train_classes) & (metrics.pattern == "all")
    ]


@pytest.mark.study_smoke
def test_tan2022_smoke_trains_the_detector_head_and_reports_its_accuracy(tmp_path):
    # with the authors' storage (JPEG, no repair), on the held-out test split, ratio 0.25 too
    results = run_smoke("tan2022", tmp_path, variant="tan2022_jpeg")
    metrics = pd.read_csv(results / "tables" / "metrics.csv")
    assert set(metrics.defence) == {"standard", "adv_train", "smoke_detector", "adv_train_025"}
    rows = full_rows(metrics)
    attacks = ("gn", "fgsm", "bim", "deepfool", "cw", "nst")
    assert set(rows.test_set) == {"clean", "natural", "white_box-fgsm"} | {
        f"attack-{a}" for a in attacks
    } | {"mix-ratio_025", "mix-ratio_050", "mix-ratio_075"} | {"worst-store", "worst-all"}
    # the success report: every store kept as JPEG without repair, and how many of the images
    # the float attack fooled are still adversarial as stored
    stores = pd.read_csv(results / "tables" / "attacks.csv").query("origin == 'store'")
    assert set(stores.attack) == set(attacks) and (stores.repaired == 0).all()
    assert set(stores.store_format) == {"JPEG q75, no repair"}
    assert (stores.still_adversarial <= stores.fooled_float).all()
    # the smoke source (one epoch on the digits) is weak, but FGSM fools it, and JPEG washes
    # some of those images out (test split: 14 of 22 still adversarial when measured)
    fgsm = stores[(stores.attack == "fgsm") & (stores.split == "test")].iloc[0]
    assert 0 < fgsm.still_adversarial < fgsm.fooled_float
    # NST's column is shown beside the paper's (not comparable, like the other attacks)
    tables = (results / "tables" / "tables.md").read_text()
    assert "still adversarial" in tables and "JPEG q75, no repair" in tables
    parts = metrics[metrics.test_set == "mix-ratio_025"].groupby("pattern").n_images.sum()
    # a mixture swaps round(0.25 n) images, split in equal shares over its attacks: whole images
    # only
    assert parts["adversarial"] / parts["all"] == pytest.approx(0.25, abs=0.01)
    detector = rows[rows.defence == "smoke_detector"].set_index("test_set").detector_accuracy
    # no clean/adversarial truth on the natural set, none for the worst case over attacks
    unknown = ["natural", "worst-store", "worst-all"]
    assert detector.drop(unknown).between(0, 1).all() and detector[unknown].isna().all()
    assert rows[rows.defence != "smoke_detector"].detector_accuracy.isna().all()
    # Tables 2-3's test set: the stored attacks mixed in at the adversarial ratio
    parts = metrics[metrics.test_set == "mix-ratio_075"].groupby("pattern").n_images.sum()
    # a mixture swaps round(0.75 n) images, split in equal shares over its attacks: whole images
    # only
    assert parts["adversarial"] / parts["all"] == pytest.approx(0.75, abs=0.01)
    tables = (results / "tables" / "tables.md").read_text()
    assert "Detector accuracy" in tables and "smoke_detector" in tables
    assert "## Reproduction" in tables and "Comparison is off" in tables


@pytest.mark.study_smoke
def test_ho2024_smoke_trains_every_architecture_and_scores_the_test_mixtures(tmp_path):
    results = run_smoke("ho2024", tmp_path)
    metrics = pd.read_csv(results / "tables" / "metrics.csv")
    assert set(metrics.model) == {"resnet50", "resnet34", "vgg19_bn", "shufflenet_v2", "repvgg_a2"}
    assert set(metrics[metrics.model == "shufflenet_v2"].architecture) == {"shufflenet_v2_x2_0"}
    # VGG19-BN's own recipe (53 epochs in the study, 2 at smoke scale), the others 1
    epochs = metrics.groupby("model").epochs.first()
    assert epochs["vgg19_bn"] == 2 and (epochs.drop("vgg19_bn") == 1).all()
    mixtures = metrics[metrics.test_set.str.startswith("hybrid-")]
    assert set(mixtures.test_set) == {
        f"hybrid-{a}-{p}pct" for a in ("fgsm", "pgd", "cw", "deepfool") for p in (3, 5, 10)
    }
    assert set(mixtures.pattern) == {"all", "real", "adversarial"}
    parts = mixtures[mixtures.test_set == "hybrid-pgd-10pct"].groupby("pattern").n_images.sum()
    assert parts["real"] + parts["adversarial"] == parts["all"]
    # 10 % of a smoke-sized test split (tens of images): rounding to whole images
    assert parts["adversarial"] * 10 == pytest.approx(parts["all"], rel=0.15)
    half = metrics[(metrics.test_set == "mix-half")].groupby("pattern").n_images.sum()
    assert half["adversarial"] * 2 == pytest.approx(half["all"], abs=6)  # 5k + 5k at scale
    tables = (results / "tables" / "tables.md").read_text()
    assert "hybrid-fgsm-3pct real" in tables and "hybrid-fgsm-3pct adversarial" in tables
    assert "Table 2 (ho2024): training results, accuracy, precision, recall on mix-half" in tables


@pytest.mark.study_smoke
def test_ho2024_detector_smoke_scores_binary_detectors_on_the_mixtures(tmp_path):
    results = run_smoke("ho2024_detector", tmp_path)
    metrics = pd.read_csv(results / "tables" / "metrics.csv")
    assert set(metrics.defence) == {"detector"}
    assert set(metrics.model) == {"resnet50", "resnet34", "vgg19_bn", "shufflenet_v2", "repvgg_a2"}
    # only sets with a real/adversarial truth; no M sweep and no natural set for a detector
    assert "natural" not in set(metrics.test_set) and set(metrics.predicted_classes) == {10}
    half = metrics[metrics.test_set == "mix-half"].set_index(["model", "pattern"])
    for model in set(metrics.model):
        whole, real, adversarial = (half.loc[(model, p)] for p in ("all", "real", "adversarial"))
        # float64 shares of whole images by two routes
        assert adversarial.accuracy == pytest.approx(whole.recall)  # AEs caught = recall
        # 50/50: accuracy is the mean of the two parts' accuracies, weighted by their sizes
        weighted = real.accuracy * real.n_images + adversarial.accuracy * adversarial.n_images
        # shares written to metrics.csv and read back: float64 rounding only
        assert whole.accuracy == pytest.approx(weighted / whole.n_images, abs=1e-5)
    assert metrics.epochs.gt(0).all() and metrics.train_accuracy.between(0, 1).all()
    clean = metrics[metrics.test_set == "clean"]
    # no adversarial image: recall undefined; precision 0 (every image called adversarial is
    # a false alarm) or undefined (none called adversarial)
    assert clean.recall.isna().all()
    assert (clean.precision.isna() | (clean.precision == 0)).all()
    tables = (results / "tables" / "tables.md").read_text()
    assert "Table 2 (ho2024): training results, accuracy, precision, recall on mix-half" in tables
    assert "hybrid-fgsm-3pct real" in tables and "## Reproduction" in tables


@pytest.mark.study_smoke
def test_xu2024_smoke_compares_feature_map_schemes_defences_and_corruptions(tmp_path):
    results = run_smoke("xu2024", tmp_path)
    metrics = pd.read_csv(results / "tables" / "metrics.csv")
    runs = set(zip(metrics.model, metrics.defence, strict=True))
    assert runs == {
        ("preact18_1122", "at"),
        ("vgg16_11222", "at"),
        ("r18_up2", "at"),
        ("r18_up3", "at"),  # the upsampling sweep's x3 point
        ("alexnet_1122", "at"),
        ("vit_up2", "at"),
        ("r18_1122_max", "at"),
        ("r18_1122", "alp"),
        ("r18_1122", "fat"),
        ("r18_1122", "awp_trades"),
    }
    rows = full_rows(metrics)
    white_box = {"white_box-pgd", "white_box-deepfool"}
    assert white_box <= set(rows.test_set)
    assert rows[rows.test_set.isin(white_box)].consistency.between(0, 1).all()
    assert metrics.huge_eps_accuracy.between(0, 1).all()
    corrupted = metrics[(metrics.test_set == "corrupted") & metrics.severity.notna()]
    assert set(zip(corrupted.pattern, corrupted.severity, strict=True)) == {
        (c, s) for c in ("gaussian_noise", "defocus_blur") for s in (1, 5)
    }
    assert metrics.groupby("model").activation_elements.first().gt(0).all()
    tables = (results / "tables" / "tables.md").read_text()
    for title in ("Gradient-masking checks", "Feature-map size and cost", "mean corruption"):
        assert title in tables


@pytest.mark.study_smoke
def test_xue2024_smoke_trains_sign_init_mixing_with_its_ablation(tmp_path):
    results = run_smoke("xue2024", tmp_path)
    metrics = pd.read_csv(results / "tables" / "metrics.csv")
    assert set(metrics.defence) == {"standard", "sign_init", "sign_init_no_mix"}
    rows = full_rows(metrics)
    assert {"white_box-pgd", "white_box-cw"} <= set(rows.test_set)
    # sign-init training is adversarial training: white-box PGD hurts it less than standard
    pgd = rows[rows.test_set == "white_box-pgd"].set_index("defence").accuracy
    clean = rows[rows.test_set == "clean"].set_index("defence").accuracy
    assert (clean - pgd)["sign_init_no_mix"] < (clean - pgd)["standard"]
