import numpy as np
import pytest
from scipy.special import softmax
from sklearn.metrics import average_precision_score, roc_auc_score

from robustsweep.evaluation.classification_metrics import (
    average_ranks,
    macro_one_vs_rest,
    restrict_to_classes,
    restricted_metrics,
)

pytestmark = pytest.mark.parity  # rerun under another kernel family: test_cpu_kernels.py


def test_restriction_predicts_over_the_chosen_logits_only():
    # Output classes 0..3. Image 0 (class 1): global argmax is class 3, but among {1, 2}
    # class 1 wins. Image 1 (class 2): class 1 beats class 2 -> wrong. Image 2 (class 0) is
    # dropped because class 0 is not among the chosen classes. Image 3 (class 2): right.
    logits = np.array(
        [
            [0.0, 2.0, 1.0, 9.0],
            [0.0, 3.0, 1.0, 0.0],
            [5.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 4.0, 8.0],
        ]
    )
    labels = np.array([1, 2, 0, 2])
    sub, targets = restrict_to_classes(logits, labels, [0, 1, 2, 3], [1, 2])
    np.testing.assert_array_equal(sub, logits[[0, 1, 3]][:, [1, 2]])
    np.testing.assert_array_equal(targets, [0, 1, 1])
    metrics = restricted_metrics(sub, targets)
    assert metrics["n_images"] == 3
    assert metrics["accuracy"] == pytest.approx(2 / 3)
    # Without restriction the same images would score 0/3 (class 3 wins twice, 1 once).
    assert np.mean(logits[[0, 1, 3]].argmax(1) == labels[[0, 1, 3]]) == 0


def test_restriction_maps_model_outputs_by_class_id():
    # A model trained on classes [3, 7] has two outputs; logit 1 stands for class 7.
    logits = np.array([[0.0, 1.0], [2.0, 0.0]])
    sub, targets = restrict_to_classes(logits, np.array([7, 3]), [3, 7], [3, 7])
    assert restricted_metrics(sub, targets)["accuracy"] == 1.0
    with pytest.raises(ValueError, match="not outputs"):
        restrict_to_classes(logits, np.array([7, 3]), [3, 7], [3, 5])


def test_auc_and_ap_match_scikit_learn_when_every_class_is_present():
    rng = np.random.default_rng(0)
    targets = np.repeat(np.arange(5), 20)
    logits = rng.normal(size=(100, 5)) + 1.5 * np.eye(5)[targets]
    metrics = restricted_metrics(logits, targets)
    probs = softmax(logits, axis=1)
    assert metrics["auc"] == pytest.approx(
        roc_auc_score(targets, probs, multi_class="ovr", average="macro")
    )
    onehot = np.eye(5)[targets]
    assert metrics["ap"] == pytest.approx(average_precision_score(onehot, probs, average="macro"))
    assert 0.5 < metrics["auc"] < 1.0


def test_absent_classes_are_left_out_of_the_macro_average():
    scores = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.6, 0.4, 0.0]])
    targets = np.array([0, 1, 0])
    auc, ap = macro_one_vs_rest(scores, targets)
    expected = np.mean([roc_auc_score(targets == c, scores[:, c]) for c in (0, 1)])
    assert auc == pytest.approx(expected)
    assert np.isfinite(ap)


def test_empty_selection_gives_nan_not_an_error():
    metrics = restricted_metrics(np.zeros((0, 3)), np.zeros(0, dtype=int))
    assert metrics["n_images"] == 0 and np.isnan(metrics["accuracy"])


def test_precision_recall_and_loss_match_scikit_learn_and_torch():
    import torch
    from sklearn.metrics import precision_score, recall_score

    rng = np.random.default_rng(1)
    targets = np.repeat(np.arange(4), 15)
    logits = rng.normal(size=(60, 4)) + 1.0 * np.eye(4)[targets]
    metrics = restricted_metrics(logits, targets)
    predictions = logits.argmax(1)
    assert metrics["precision"] == pytest.approx(
        precision_score(targets, predictions, average="macro")
    )
    assert metrics["recall"] == pytest.approx(recall_score(targets, predictions, average="macro"))
    expected_loss = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(targets))
    assert metrics["loss"] == pytest.approx(expected_loss.item())


def test_a_class_never_predicted_counts_as_zero_precision():
    logits = np.array([[2.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    metrics = restricted_metrics(logits, np.array([0, 2, 1]))
    # class 0: 1 of 2 predictions right; class 1: 1 of 1; class 2: never predicted -> 0
    assert metrics["precision"] == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert metrics["recall"] == pytest.approx((1.0 + 1.0 + 0.0) / 3)


def test_consistency_is_the_share_of_unchanged_predictions():
    from robustsweep.evaluation.classification_metrics import consistency

    clean = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    attacked = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [2.0, 0.0]])
    assert consistency(attacked, clean) == 0.5


@pytest.mark.parametrize("decimals", [None, 1], ids=["distinct", "ties"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_scores_equal_scikit_learn_per_class(seed, decimals):
    from sklearn.metrics import precision_score, recall_score

    from robustsweep.evaluation.classification_metrics import macro_precision_recall

    rng = np.random.default_rng(seed)
    n, k = 300, 12
    targets = rng.integers(0, k - 1, n)  # class k-1 never present: left out of AUC/AP
    scores = rng.random((n, k)) + 0.3 * (targets[:, None] == np.arange(k))
    if decimals is not None:  # many tied scores, within and across classes
        scores = scores.round(decimals)
    auc, ap = macro_one_vs_rest(scores, targets)
    scored = range(k - 1)
    expected_auc = np.mean([roc_auc_score(targets == c, scores[:, c]) for c in scored])
    expected_ap = np.mean([average_precision_score(targets == c, scores[:, c]) for c in scored])
    assert auc == pytest.approx(expected_auc, abs=1e-10)
    assert ap == pytest.approx(expected_ap, abs=1e-10)
    predictions = scores.argmax(1)
    labels = list(range(k))
    precision, recall = macro_precision_recall(predictions, targets, k)
    options = {"labels": labels, "average": "macro", "zero_division": 0}
    assert precision == pytest.approx(precision_score(targets, predictions, **options), abs=1e-12)
    assert recall == pytest.approx(recall_score(targets, predictions, **options), abs=1e-12)


def test_saturated_softmax_does_not_tie_confident_images():
    # Two classes, logits (margin, 0): every score is a monotone function of the margin, so
    # scikit-learn on the margins is the exact AUC and AP. Margins of 18-30 give softmax
    # probabilities that are all exactly 1.0 in float32 (ties), distinct in our scores.
    margins = np.array([18, 20, 21, 23, 24, 26, 27, 29, 30, -3, 19, 22, 25, 28, -1, -2])
    targets = np.array([0] * 9 + [1] * 7)
    logits = np.stack([margins, np.zeros_like(margins)], axis=1).astype(np.float32)
    metrics = restricted_metrics(logits, targets)
    exact_ap = np.mean(
        [
            average_precision_score(targets == 0, margins),
            average_precision_score(targets == 1, -margins),
        ]
    )
    exact_auc = roc_auc_score(targets == 0, margins)
    assert metrics["ap"] == pytest.approx(exact_ap, abs=1e-12)
    assert metrics["auc"] == pytest.approx(exact_auc, abs=1e-12)
    # what float32 probabilities give instead: the confident images tie
    probs = softmax(logits, axis=1)
    assert probs.dtype == np.float32 and (probs[margins >= 18, 0] == 1.0).all()
    tied_ap = np.mean([average_precision_score(targets == c, probs[:, c]) for c in (0, 1)])
    assert abs(tied_ap - exact_ap) > 1e-3


@pytest.mark.parametrize("decimals", [0, 1, 6])
def test_average_ranks_equal_scipy_rankdata_with_ties(decimals):
    from scipy.stats import rankdata

    rng = np.random.default_rng(decimals)
    scores = rng.normal(size=(257, 7)).round(decimals)  # decimals 0: many ties per column
    scores[:, 0] = 1.5  # one column all tied
    np.testing.assert_array_equal(average_ranks(scores), rankdata(scores, axis=0))
    np.testing.assert_array_equal(average_ranks(scores[:1]), [[1.0] * 7])
