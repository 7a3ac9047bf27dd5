"""Our attacks against independent implementations, on a model trained inside the test run.

foolbox 3 (Rauber et al.) implements FGSM, L-inf PGD, DeepFool and C&W on its own; Croce &
Hein's auto-attack (the official code, as repackaged on PyPI by pyautoattack: its attack
modules are fra31/auto-attack's) is the reference for `autoattack`. Each test runs both on the
same trained digits model and the same images and compares what a study reports: the
adversarial images where the algorithm is deterministic, otherwise the attack's success.
Last, every stored image of a bounded attack lies within its budget after rounding to uint8.
"""

from __future__ import annotations

import foolbox
import numpy as np
import pytest
import torch

from robustsweep.attacks.adversarial_store import generate_store
from robustsweep.attacks.methods import build_attack
from robustsweep.attacks.store_file import read_store
from robustsweep.data.prepared_dataset import load_split
from robustsweep.models.inference import to_float
from robustsweep.models.trained_models import load_model

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def test_split(digits_h5, trained_model):
    """The trained digits model and its whole test split (360 images, 16 px)."""
    model, _ = load_model(trained_model)
    for p in model.parameters():
        p.requires_grad_(False)
    split = load_split(digits_h5, "test")
    return model.eval(), to_float(split.images, CPU), torch.as_tensor(split.labels)


def fmodel(model):
    return foolbox.PyTorchModel(model.eval(), bounds=(0, 1))


def predictions(model, images):
    with torch.no_grad():
        return model(images).argmax(1)


def accuracy(model, images, labels) -> float:
    return (predictions(model, images) == labels).float().mean().item()


def success(model, adversarial, images, labels) -> float:
    """Share of the correctly classified images that `adversarial` misclassifies."""
    correct = predictions(model, images) == labels
    return (predictions(model, adversarial) != labels)[correct].float().mean().item()


def median_l2(model, adversarial, images, labels) -> float:
    correct = predictions(model, images) == labels
    return (adversarial - images).flatten(1).norm(dim=1)[correct].median().item()


@pytest.mark.parametrize("eps", [0.02, 0.1])
def test_fgsm_equals_foolbox(attack_batch, eps):
    model, images, labels = attack_batch
    ours = build_attack(model, {"method": "fgsm", "eps": eps}, 10)(images, labels)
    _, theirs, _ = foolbox.attacks.FGSM()(fmodel(model), images, labels, epsilons=eps)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-6)


@pytest.mark.parametrize("eps", [0.015, 0.02])
def test_pgd_robust_accuracy_within_two_points_of_foolbox(test_split, eps):
    model, images, labels = test_split
    step, steps = eps / 4, 10
    torch.manual_seed(0)
    spec = {"method": "pgd", "eps": eps, "alpha": step, "steps": steps}
    ours = build_attack(model, spec, 10)(images, labels)
    attack = foolbox.attacks.LinfPGD(abs_stepsize=step, steps=steps, random_start=True)
    _, theirs, _ = attack(fmodel(model), images, labels, epsilons=eps)
    theirs_accuracy = accuracy(model, theirs, labels)
    assert 0.1 < theirs_accuracy < 0.9  # an eps where the comparison can tell attacks apart
    assert abs(accuracy(model, ours, labels) - theirs_accuracy) <= 0.02


def test_deepfool_fools_every_correct_image_with_foolbox_norms(test_split):
    model, images, labels = test_split
    spec = {"method": "deepfool", "steps": 50, "overshoot": 0.02}
    ours = build_attack(model, spec, 10)(images, labels)
    attack = foolbox.attacks.L2DeepFoolAttack(steps=50, overshoot=0.02, candidates=None)
    _, theirs, _ = attack(fmodel(model), images, labels, epsilons=None)
    assert success(model, ours, images, labels) >= 0.99
    ours_l2, theirs_l2 = (median_l2(model, adv, images, labels) for adv in (ours, theirs))
    assert abs(ours_l2 - theirs_l2) <= 0.1 * theirs_l2


def test_cw_success_at_least_foolbox_minus_two_points(attack_batch):
    model, images, labels = attack_batch
    c, steps, lr = 1.0, 30, 0.01
    spec = {"method": "cw", "c": c, "kappa": 0.0, "steps": steps, "lr": lr}
    ours = build_attack(model, spec, 10)(images, labels)
    # one optimisation at our constant: foolbox's binary search over c reduced to that c
    attack = foolbox.attacks.L2CarliniWagnerAttack(
        binary_search_steps=1, steps=steps, stepsize=lr, confidence=0, initial_const=c
    )
    _, theirs, fooled = attack(fmodel(model), images, labels, epsilons=None)
    correct = predictions(model, images) == labels
    theirs_success = fooled[correct].float().mean().item()
    assert theirs_success > 0.5
    assert success(model, ours, images, labels) >= theirs_success - 0.02


def test_autoattack_robust_accuracy_equals_the_official_code(attack_batch):
    from pyautoattack import AutoAttack as OfficialAutoAttack

    model, images, labels = attack_batch
    images, labels, eps = images[:32], labels[:32], 0.015
    ours = build_attack(model, {"method": "autoattack", "eps": eps, "seed": 0}, 10)
    official = OfficialAutoAttack(model, device="cpu", eps=eps, seed=0, version="standard")
    theirs, _ = official.run_standard_evaluation(images, labels, batch_size=250)
    robust = accuracy(model, theirs, labels)
    assert 0.05 < robust < 0.9
    assert accuracy(model, ours(images, labels), labels) == robust


@pytest.mark.parametrize(
    "spec",
    [
        {"method": "fgsm", "eps": 0.1},
        {"method": "bim", "eps": 8 / 255, "alpha": 0.01, "steps": 5},
        {"method": "pgd", "eps": 0.05, "alpha": 0.02, "steps": 5},
        {"method": "pgdl2", "eps": 0.5, "alpha": 0.2, "steps": 5},
    ],
    ids=lambda spec: spec["method"],
)
def test_every_stored_image_is_within_its_budget(tmp_path, digits_h5, trained_model, spec):
    generate_store(tmp_path / "s.h5", digits_h5, "test", trained_model, "a", spec, 128, 0, CPU)
    stored = read_store(tmp_path / "s.h5")
    clean = load_split(digits_h5, "test").images
    delta = (stored.images.astype(np.int64) - clean.astype(np.int64)).reshape(len(clean), -1)
    if spec["method"] == "pgdl2":
        sizes = np.sqrt((delta.astype(np.float64) ** 2).sum(1)) / 255
        assert sizes.max() <= spec["eps"] + 1e-9 and sizes.max() > spec["eps"] / 2
    else:
        # exactly the grey levels the budget allows: floor(eps * 255), never half a level more
        assert np.abs(delta).max() == int(spec["eps"] * 255 + 1e-6)
    assert stored.attrs["linf_max"] <= spec["eps"] + 1e-9
