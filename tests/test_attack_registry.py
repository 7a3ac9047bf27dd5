"""Each registered attack does what its name promises on a trained digits model."""

import pytest
import torch
import torchattacks

from robustsweep.attacks.methods import build_attack
from robustsweep.attacks.methods.autoattack import REFERENCE_AUTOATTACK

CPU = torch.device("cpu")
EPS = 0.1


@pytest.fixture(scope="module")
def batch(attack_batch):
    return attack_batch


def attacked(batch, spec):
    model, images, labels = batch
    torch.manual_seed(0)
    adversarial = build_attack(model, spec, 10)(images, labels)
    with torch.no_grad():
        accuracy = (model(adversarial).argmax(1) == labels).float().mean().item()
    return adversarial - images, accuracy


def clean_accuracy(batch) -> float:
    model, images, labels = batch
    with torch.no_grad():
        return (model(images).argmax(1) == labels).float().mean().item()


@pytest.mark.parametrize(
    "spec",
    [
        {"method": "fgsm", "eps": EPS},
        {"method": "bim", "eps": EPS, "alpha": 0.01, "steps": 10},
        {"method": "pgd", "eps": EPS, "alpha": 0.025, "steps": 10},
        {"method": "autoattack", "eps": EPS},
        {"method": "square", "eps": EPS, "n_queries": 100},  # black box: queries, no gradients
    ],
    ids=lambda spec: spec["method"],
)
def test_linf_attacks_stay_within_eps_and_lower_accuracy(batch, spec):
    delta, accuracy = attacked(batch, spec)
    assert delta.abs().max().item() <= EPS + 1e-6
    assert delta.abs().max().item() > EPS / 2
    assert accuracy < clean_accuracy(batch) - 0.3


def test_l2_pgd_stays_within_its_ball(batch):
    delta, accuracy = attacked(batch, {"method": "pgdl2", "eps": 1.0, "alpha": 0.2, "steps": 10})
    norms = delta.flatten(1).norm(dim=1)
    assert norms.max().item() <= 1.0 + 1e-4 and norms.mean().item() > 0.5
    assert accuracy < clean_accuracy(batch)


def test_gaussian_noise_has_the_configured_spread(batch):
    delta, _ = attacked(batch, {"method": "gn", "std": 0.1})
    _, images, _ = batch
    inside = (images > 0.35) & (images < 0.65)  # far from the [0, 1] clip
    # the sd of ~thousands of N(0, 0.01) draws has a standard error near 0.1 / sqrt(2n) < 0.002:
    # 0.01 is over 5 standard errors
    assert abs(delta[inside].std().item() - 0.1) < 0.01
    assert abs(delta[inside].mean().item()) < 0.01


@pytest.mark.parametrize(
    "spec",
    [{"method": "deepfool", "steps": 20, "overshoot": 0.02}, {"method": "cw", "steps": 50}],
    ids=["deepfool", "cw"],
)
def test_minimum_norm_attacks_flip_most_predictions_with_small_changes(batch, spec):
    # DeepFool (foolbox's semantics: overshoot on the accumulated perturbation) ends past
    # the boundary, so every prediction flips; C&W at 50 steps flips most.
    delta, accuracy = attacked(batch, spec)
    assert accuracy < (0.01 if spec["method"] == "deepfool" else 0.5)
    assert clean_accuracy(batch) > 0.85
    assert delta.flatten(1).norm(dim=1).median().item() < 3.0


def test_pgd_is_never_weaker_than_fgsm_and_autoattack_never_weaker_than_pgd(batch):
    _, fgsm = attacked(batch, {"method": "fgsm", "eps": 0.05})
    _, pgd = attacked(batch, {"method": "pgd", "eps": 0.05, "alpha": 0.0125, "steps": 10})
    _, auto = attacked(batch, {"method": "autoattack", "eps": 0.05})
    assert auto <= pgd <= fgsm


def test_autoattack_uses_the_reference_standard_settings(batch):
    model = batch[0]
    apgd, apgdt, fab, square = build_attack(model, {"method": "autoattack", "eps": EPS}, 10).attacks
    assert (type(apgd), type(apgdt), type(fab), type(square)) == (
        torchattacks.APGD,
        torchattacks.APGDT,
        torchattacks.FAB,
        torchattacks.Square,
    )
    assert (apgd.steps, apgd.n_restarts, apgd.loss, apgd.thr_decr, apgd.eot_iter) == (
        100,
        1,
        "ce",
        0.75,
        1,
    )
    assert (apgdt.steps, apgdt.n_restarts, apgdt.n_target_classes) == (100, 1, 9)
    assert (fab.steps, fab.n_restarts, fab.n_target_classes, fab.multi_targeted) == (
        100,
        1,
        9,
        True,
    )
    assert (square.n_queries, square.n_restarts, square.p_init) == (5000, 1, 0.8)
    # auto-attack's standard version does not rescale Square's p schedule (torchattacks does)
    assert square.rescale_schedule is False
    assert all(a.eps == EPS and a.norm == "Linf" for a in (apgd, apgdt, fab, square))
    assert REFERENCE_AUTOATTACK["apgd-t"]["n_target_classes"] == 9
    # what torchattacks' own AutoAttack would have run instead (upstream #196, #188)
    upstream = torchattacks.AutoAttack(model, eps=EPS, n_classes=100)._autoattack.attacks
    assert upstream[0].steps == 10 and upstream[1].n_target_classes == 99


def test_autoattack_targets_every_other_class_of_a_small_model(batch):
    model = batch[0]
    attacks = build_attack(model, {"method": "autoattack", "eps": EPS}, 5).attacks
    assert [type(a).__name__ for a in attacks] == ["APGD", "APGDT", "FAB", "Square"]
    assert attacks[1].n_target_classes == attacks[2].n_target_classes == 4
    three = build_attack(model, {"method": "autoattack", "eps": EPS}, 3).attacks
    assert [type(a).__name__ for a in three] == ["APGD", "FAB", "Square"]
