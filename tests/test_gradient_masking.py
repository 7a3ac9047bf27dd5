"""Gradient-masking checks: an honest model passes them, a masked one is flagged."""

import pytest
import torch

from robustsweep.data.prepared_dataset import load_split
from robustsweep.evaluation.gradient_masking import (
    RANDOMNESS_TOLERANCE,
    forward_disagreement,
    huge_eps_accuracy,
    masking_flags,
    zero_gradient_fraction,
)
from robustsweep.models.inference import to_float
from robustsweep.models.trained_models import load_model

CPU = torch.device("cpu")


class Quantised(torch.nn.Module):
    """Input quantisation in front of a model: a classic masking 'defence' whose input
    gradient is zero almost everywhere (the rounding has zero derivative)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(torch.round(x * 4) / 4)


@pytest.fixture(scope="module")
def test_batch(digits_h5):
    split = load_split(digits_h5, "test")
    return to_float(split.images[:128], CPU), torch.as_tensor(split.labels[:128])


def test_honest_model_has_gradients_and_falls_to_zero_at_a_huge_eps(trained_model, test_batch):
    model, _ = load_model(trained_model)
    images, labels = test_batch
    assert zero_gradient_fraction(model, images, labels, 64) < 0.05
    assert huge_eps_accuracy(model, images, labels, 1.0, 10, 64, 0) < 0.1


def test_masked_model_is_caught_by_both_measurements(trained_model, test_batch):
    model, _ = load_model(trained_model)
    masked = Quantised(model).eval()
    images, labels = test_batch
    zero = zero_gradient_fraction(masked, images, labels, 64)
    huge = huge_eps_accuracy(masked, images, labels, 1.0, 10, 64, 0)
    assert zero == 1.0 and huge > 0.5  # PGD never moves: accuracy stays near clean
    flags = masking_flags({}, {}, zero, huge, 10)
    assert flags == [
        "zero gradients on 100.0% of images",
        f"{huge:.1%} accuracy at a huge eps (chance 10.0%)",
    ]


PGD = {"method": "pgd", "eps": 0.03, "alpha": 0.01, "steps": 10}
SQUARE = {"method": "square", "eps": 0.03}


@pytest.mark.parametrize(
    ("accuracy", "expected"),
    [
        # white box strongest: nothing to flag
        ({"white_box-pgd": 0.1, "attack-pgd": 0.4, "white_box-square": 0.3}, []),
        # the transfer copy of the same attack beats the white-box one
        (
            {"white_box-pgd": 0.5, "attack-pgd": 0.4, "white_box-square": 0.6},
            ["attack-pgd (transfer) beats white_box-pgd"],
        ),
        # a black-box method of the same budget beats the gradient attack
        (
            {"white_box-pgd": 0.5, "attack-pgd": 0.6, "white_box-square": 0.3},
            ["white_box-square (black box) beats white_box-pgd"],
        ),
    ],
)
def test_black_box_beating_white_box_is_flagged(accuracy, expected):
    specs = {"white_box-pgd": PGD, "white_box-square": SQUARE}
    assert masking_flags(accuracy, specs, 0.0, 0.0, 10) == expected


def test_black_box_of_another_budget_is_not_compared():
    specs = {"white_box-pgd": PGD, "white_box-square": {**SQUARE, "eps": 0.3}}
    accuracy = {"white_box-pgd": 0.5, "white_box-square": 0.1}
    assert masking_flags(accuracy, specs, 0.0, 0.0, 10) == []


def test_label_leaking_is_flagged_where_an_attacked_set_beats_clean():
    # small_cnn + offline_adversarial in the default study before this check: 98.3 % on
    # attack-fgsm against 90.3 % clean (Kurakin et al.'s label leaking)
    specs = {"attack-fgsm": {"method": "fgsm", "eps": 0.1}, "attack-gn": {"method": "gn"}}
    accuracy = {
        "clean": 0.903,
        "attack-fgsm": 0.983,
        "attack-gn": 0.95,  # noise carries no label: never label leaking
        "white_box-pgd": 0.2,
        "hybrid-fgsm-10pct": 0.91,  # mixtures are not attacked sets of their own
    }
    flags = masking_flags(accuracy, specs | {"white_box-pgd": PGD}, 0.0, 0.0, 10)
    assert flags == ["label leaking: attack-fgsm accuracy 98.3% above clean 90.3% (Kurakin et al.)"]
    accuracy |= {"attack-fgsm": 0.903, "white_box-pgd": 0.91}
    flags = masking_flags(accuracy, specs | {"white_box-pgd": PGD}, 0.0, 0.0, 10)
    assert flags == [
        "label leaking: white_box-pgd accuracy 91.0% above clean 90.3% (Kurakin et al.)"
    ]


def test_label_leaking_needs_significantly_more_images_made_right_than_wrong():
    # paired by image: (made right, made wrong) relative to the clean images
    accuracy = {"clean": 0.911, "attack-fgsm": 0.986, "attack-deepfool": 0.917}
    changes = {"attack-fgsm": (29, 2), "attack-deepfool": (3, 1)}
    flags = masking_flags(accuracy, {}, 0.0, 0.0, 10, changes)
    # 29 of 31 changes one way: p ~ 2e-7; 3 of 4: p = 5/16, an image or two of noise
    assert flags == ["label leaking: attack-fgsm accuracy 98.6% above clean 91.1% (Kurakin et al.)"]


def test_switched_off_checks_measure_nothing(trained_model, test_batch):
    from dataclasses import replace

    from robustsweep.evaluation.logits_cache import masking_measurements
    from robustsweep.stage_settings import MaskingChecks

    model, card = load_model(trained_model)
    images, labels = test_batch
    uint8 = (images.permute(0, 2, 3, 1) * 255).round().byte().numpy()
    on = MaskingChecks.from_section({"enabled": True, "huge_eps": 1.0, "steps": 5})
    measured = masking_measurements(model, card.class_ids, uint8, labels.numpy(), on, 64, 0, CPU)
    assert measured["huge_eps_accuracy"] < 0.1 and measured["zero_gradient_fraction"] < 0.05
    off = masking_measurements(
        model, card.class_ids, uint8, labels.numpy(), replace(on, enabled=False), 64, 0, CPU
    )
    assert all(value != value for value in off.values())  # NaN: not measured


def dropout_net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(3 * 16 * 16, 32),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.5),
        torch.nn.Linear(32, 10),
    )


def test_randomness_flag_fires_with_dropout_on_and_not_in_eval_mode(trained_model, test_batch):
    images, labels = test_batch
    with_dropout = forward_disagreement(dropout_net().train(), images)
    assert with_dropout > 100 * RANDOMNESS_TOLERANCE  # half the hidden units differ per pass
    flags = masking_flags({}, {}, 0.0, 0.0, 10, disagreement=with_dropout)
    assert len(flags) == 1 and flags[0].startswith("randomness: two forward passes")
    assert forward_disagreement(dropout_net().eval(), images) == 0.0
    model, _ = load_model(trained_model)  # loaded in eval mode: batch norm, no randomness
    deterministic = forward_disagreement(model, images)
    assert deterministic <= RANDOMNESS_TOLERANCE
    assert masking_flags({}, {}, 0.0, 0.0, 10, disagreement=deterministic) == []
