"""Budget sweeps (evaluation/budget_sweep.py): accuracy must fall to 0 as eps grows, and a
model that masks its gradients is flagged because it does not."""

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from robustsweep.data.prepared_dataset import load_split
from robustsweep.evaluation.budget_sweep import budget_flag, budget_spec, sweep_logits
from robustsweep.evaluation.logits_file import TestSetLogits as SetLogits
from robustsweep.evaluation.run_evaluation import budget_rows
from robustsweep.models.trained_models import load_model

CPU = torch.device("cpu")
# PGD from the clean image: a random start alone could move a masked model's predictions
PGD = {"method": "pgd", "eps": 0.1, "alpha": 0.025, "steps": 10, "random_start": False}
BUDGETS = [0.1, 0.5]
MAX_ACCURACY = 0.1


class SaturatedSoftmax(torch.nn.Module):
    """A model whose logits are scaled so far that float32's softmax is exactly one-hot on
    every confidently classified image: the cross-entropy gradient is exactly 0 there, so a
    gradient attack stands still however large its budget (a classic masking 'defence')."""

    def __init__(self, model: torch.nn.Module, scale: float = 1e4):
        super().__init__()
        self.model, self.scale = model, scale

    def forward(self, x):
        return self.model(x) * self.scale


@pytest.fixture(scope="module")
def sweep_input(digits_h5, trained_model):
    model, card = load_model(trained_model)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    split = load_split(digits_h5, "test")
    return model, card.class_ids, split.images[:96], split.labels[:96]


def sweep_accuracy(model, class_ids, images, labels) -> dict[float, float]:
    logits = sweep_logits(model, class_ids, images, labels, PGD, BUDGETS, 96, 0, CPU)
    ids = np.asarray(class_ids)
    return {eps: float(np.mean(ids[v.argmax(1)] == labels)) for eps, v in logits.items()}


def test_flag_fires_on_a_gradient_masking_model_and_not_on_a_normally_trained_one(sweep_input):
    model, class_ids, images, labels = sweep_input
    honest = sweep_accuracy(model, class_ids, images, labels)
    assert honest[0.5] <= MAX_ACCURACY  # an L-inf ball of 0.5 around a digit holds any digit
    assert budget_flag(honest, MAX_ACCURACY, "pgd") == []
    masked = sweep_accuracy(SaturatedSoftmax(model).eval(), class_ids, images, labels)
    assert masked[0.5] > 0.5  # PGD never moves: accuracy stays near clean (about 95 %)
    (flag,) = budget_flag(masked, MAX_ACCURACY, "pgd")
    assert flag.startswith(f"budget sweep: pgd leaves {masked[0.5]:.1%} accuracy at eps 0.5")


def test_step_size_scales_with_the_budget():
    assert budget_spec(PGD, 0.5) == {**PGD, "eps": 0.5, "alpha": pytest.approx(0.125)}
    assert budget_spec({"method": "fgsm", "eps": 0.1}, 0.3) == {"method": "fgsm", "eps": 0.3}


def test_flag_reads_the_largest_budget_only():
    assert budget_flag({0.1: 0.9, 0.3: 0.05}, 0.1, "pgd") == []
    assert budget_flag({0.1: 0.05, 0.3: 0.2}, 0.1, "pgd") != []
    assert budget_flag({}, 0.1, "pgd") == []


def test_budget_rows_start_from_the_clean_logits_of_the_same_images(tmp_path):
    """eps 0 is the clean set restricted to the swept images; each budget its own row."""
    labels = np.array([0, 1, 1, 0])
    clean = SetLogits(
        np.eye(2, dtype=np.float32)[[0, 1, 1, 1, 0]],
        np.r_[labels, 0],
        None,
        np.array([5, 6, 7, 8, 9]),
    )
    path = tmp_path / "budget_sweep.h5"
    with h5py.File(path, "w") as h5:
        for k, (eps, predicted) in enumerate([(0.2, [1, 1, 0, 0]), (0.1, [0, 1, 0, 0])]):
            group = h5.create_group(f"eps-{k}")
            group.create_dataset("logits", data=np.eye(2, dtype=np.float32)[predicted])
            group.create_dataset("label", data=labels)
            group.create_dataset("index", data=np.array([5, 6, 7, 8]))
            group.attrs["eps"] = eps
        h5.attrs["attack"] = "pgd"
    rows, attack = budget_rows(path, clean, [0, 1])
    table = pd.DataFrame(rows)
    assert attack == "pgd" and set(table.test_set) == {"budget-pgd"}
    assert table.severity.tolist() == [0.0, 0.1, 0.2]
    assert table.pattern.tolist() == ["eps 0", "eps 0.1", "eps 0.2"]
    # clean on rows 5-8: right on 5, 6, 7, wrong on 8 (predicts 1, label 0)
    # eps 0.1 predicts [0, 1, 0, 0] (3 of 4 right), eps 0.2 [1, 1, 0, 0] (2 of 4)
    assert table.accuracy.tolist() == pytest.approx([3 / 4, 3 / 4, 2 / 4], abs=1e-12)


def test_the_runs_white_box_set_of_the_same_attack_is_a_point_of_the_curve(tmp_path):
    """A white-box PGD set at eps 0.15 joins a sweep of 0.1 and 0.2 in budget order; at a
    budget the sweep lists itself, the sweep's own logits are kept."""
    labels = np.array([0, 1])
    index = np.array([3, 4])
    clean = SetLogits(np.eye(2, dtype=np.float32)[[0, 1]], labels, None, index)
    path = tmp_path / "budget_sweep.h5"
    with h5py.File(path, "w") as h5:
        for k, eps in enumerate([0.1, 0.2]):
            group = h5.create_group(f"eps-{k}")
            group.create_dataset("logits", data=np.eye(2, dtype=np.float32)[[0, 0]])
            group.create_dataset("label", data=labels)
            group.create_dataset("index", data=index)
            group.attrs["eps"] = eps
        h5.attrs["attack"] = "pgd"
    wrong = np.eye(2, dtype=np.float32)[[1, 0]]  # wrong on both images
    white_box = SetLogits(wrong, labels, None, index, spec={"method": "pgd", "eps": 0.15})
    rows, _ = budget_rows(path, clean, [0, 1], white_box)
    assert [row["severity"] for row in rows] == [0.0, 0.1, 0.15, 0.2]
    assert [row["accuracy"] for row in rows] == [1.0, 0.5, 0.0, 0.5]
    same = SetLogits(wrong, labels, None, index, spec={"method": "pgd", "eps": 0.1})
    rows, _ = budget_rows(path, clean, [0, 1], same)
    assert [row["accuracy"] for row in rows] == [1.0, 0.5, 0.5]
