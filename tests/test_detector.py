"""ho2024's other reading: the model itself is a binary real-vs-adversarial detector (defence
`detector`), trained on clean images (label real, 0) and their stored adversarial versions
(label adversarial, 1), scored with the paper's binary Eqs. 4-6 on every mixture."""

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from conftest import train_small_cnn
from robustsweep.attacks.adversarial_store import generate_store
from robustsweep.attacks.methods import build_attack
from robustsweep.data.prepared_dataset import load_split
from robustsweep.evaluation.classification_metrics import binary_metrics
from robustsweep.evaluation.logits_file import TestSetLogits as Logits
from robustsweep.evaluation.run_evaluation import detector_rows
from robustsweep.models.inference import to_float
from robustsweep.models.trained_models import load_model
from robustsweep.training.defences.detector import DetectorTrainer
from robustsweep.training.defences.offline_adversarial import StoreSampler
from robustsweep.training.training_loop import recipe

CPU = torch.device("cpu")
FGSM = {"method": "fgsm", "eps": 0.1}


def hand_made_logits() -> tuple[np.ndarray, np.ndarray]:
    """12 images, 4 adversarial; the detector calls 5 adversarial, 3 of them rightly:
    TP 3, FP 2, FN 1, TN 6."""
    truth = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1], bool)
    called = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0], bool)
    margin = np.linspace(0.5, 3.0, len(truth))
    logits = np.zeros((len(truth), 2))
    logits[:, 1] = np.where(called, margin, -margin)
    return logits, truth


def test_binary_metrics_are_the_papers_tp_fp_formulas_as_sklearn_computes_them():
    logits, truth = hand_made_logits()
    got = binary_metrics(logits, truth)
    predicted = logits.argmax(1)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(truth, predicted)) == 9 / 12
    assert got["precision"] == pytest.approx(skm.precision_score(truth, predicted)) == 3 / 5
    assert got["recall"] == pytest.approx(skm.recall_score(truth, predicted)) == 3 / 4
    probability = torch.softmax(torch.as_tensor(logits), 1).numpy()
    assert got["loss"] == pytest.approx(skm.log_loss(truth, probability), abs=1e-12)
    assert got["auc"] == pytest.approx(skm.roc_auc_score(truth, probability[:, 1]), abs=1e-12)
    ap = skm.average_precision_score(truth, probability[:, 1])
    assert got["ap"] == pytest.approx(ap, abs=1e-12)
    # no adversarial image, none called adversarial: precision and recall undefined (NaN, as
    # scikit-learn's zero_division=np.nan gives), AUC undefined on one class
    silent = binary_metrics(-np.abs(logits), np.zeros(12, bool))
    none = np.zeros(12, int)
    assert np.isnan(skm.precision_score(none, none, zero_division=np.nan))
    assert np.isnan(silent["precision"]) and np.isnan(silent["recall"])
    assert silent["accuracy"] == 1.0 and np.isnan(silent["auc"])


def test_detector_rows_score_a_mixture_whole_and_per_part():
    logits, truth = hand_made_logits()
    labels = np.arange(12) % 3  # three classes, all the run's
    mixture = Logits(logits, labels, None, np.arange(12), adversarial=truth)
    rows = {row["pattern"]: row for row in detector_rows("mix-half", mixture, [0, 1, 2])}
    assert rows["all"]["precision"] == pytest.approx(3 / 5)
    assert rows["all"]["recall"] == pytest.approx(3 / 4)
    assert rows["real"]["accuracy"] == pytest.approx(6 / 8)  # real images called real
    assert rows["adversarial"]["accuracy"] == pytest.approx(3 / 4)  # = the recall
    assert rows["all"]["detector_accuracy"] == rows["all"]["accuracy"] == pytest.approx(9 / 12)
    clean = Logits(logits, labels, None, np.arange(12))
    (only,) = detector_rows("clean", clean, [0, 1, 2])  # every clean image is real
    assert only["accuracy"] == pytest.approx(np.mean(logits.argmax(1) == 0))
    assert detector_rows("natural", clean, [0, 1, 2]) == []  # no real/adversarial truth


def test_detector_batches_pair_each_clean_image_with_its_stored_version():
    stored = torch.randint(0, 256, (2, 6, 3, 4, 4), dtype=torch.uint8)  # 2 attacks, 6 images
    seen = {}

    def model(inputs):
        seen["inputs"] = inputs
        return torch.zeros(len(inputs), 2, requires_grad=True)

    images, positions = torch.rand(4, 3, 4, 4), torch.tensor([5, 0, 3, 2])
    trainer = DetectorTrainer(StoreSampler(stored, 1.0))
    generator = torch.Generator().manual_seed(0)
    loss, logits, truth = trainer.loss(
        model, images, torch.tensor([7, 7, 7, 7]), positions, generator
    )
    assert truth.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]  # real, then their adversarial twins
    # a float32 loss against float64 log 2: approx's rel 1e-6 is ~8 float32 ulps
    assert loss.item() == pytest.approx(np.log(2))
    inputs = seen["inputs"]
    assert torch.equal(inputs[:4], images)
    _, which = StoreSampler(stored, 1.0).choose(4, torch.Generator().manual_seed(0))
    twins = stored[which, positions].float() / 255
    assert torch.equal(inputs[4:], twins)
    half = DetectorTrainer(StoreSampler(stored, 0.5))
    _, _, truth = half.loss(model, images, torch.zeros(4), positions, torch.Generator())
    assert truth[:4].sum() == 0 and len(truth) == 4 + truth.sum()


def test_a_detector_run_has_two_outputs_and_tells_fgsm_from_clean(
    tmp_path, digits_h5, all_classes_subset, trained_model
):
    store = tmp_path / "fgsm.h5"
    generate_store(store, digits_h5, "train", trained_model, "fgsm", FGSM, 256, 0, CPU)
    weights = train_small_cnn(
        tmp_path,
        digits_h5,
        all_classes_subset,
        {"method": "detector", "attacks": ["fgsm"]},
        recipe(epochs=4, lr=3e-3, restart_epochs=4),
        stores={"fgsm": store},
    )
    model, card = load_model(weights)
    assert card.outputs == ["real", "adversarial"] and card.class_ids == list(range(10))
    source, _ = load_model(trained_model)
    split = load_split(digits_h5, "test")
    images, labels = to_float(split.images, CPU), torch.as_tensor(split.labels)
    torch.manual_seed(0)
    attacked = build_attack(source, FGSM, 10)(images, labels)
    with torch.no_grad():
        logits = torch.cat([model(images), model(attacked)]).numpy()
    assert logits.shape == (2 * len(images), 2)
    truth = np.r_[np.zeros(len(images), bool), np.ones(len(images), bool)]
    assert binary_metrics(logits, truth)["accuracy"] > 0.8
