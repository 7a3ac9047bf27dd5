"""Our attacks against independent implementations, on a model trained inside the test run.

foolbox 3 (Rauber et al.) implements FGSM, L-inf PGD, DeepFool and C&W on its own; Croce &
Hein's auto-attack (the official code, as repackaged on PyPI by pyautoattack: its attack
modules are fra31/auto-attack's) is the reference for `autoattack`. Each test runs both on the
same trained digits model and the same images.

Where both codes implement the same algorithm (FGSM, PGD, DeepFool) they run in float64 from
the same random start (issue #29): the adversarial images then agree to float64 rounding
(ROUNDING) whatever SIMD kernels torch picks on this CPU, and a test breaks our attack on
purpose (one PGD step fewer) to show that the comparison can fail. C&W's two codes differ on
purpose (see its test), so there the comparison is one-sided with a margin the test explains.
AutoAttack runs float32 on both sides (the official code casts its inputs to float32) with
the same seeds: the same arithmetic on the same CPU, compared exactly.
Last, every stored image of a bounded attack lies within its budget after rounding to uint8.
"""

from __future__ import annotations

import copy

import eagerpy as ep
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
# float64 results of the same algorithm differ by reordered sums only (measured: 0 for
# FGSM/PGD, 1.1e-16 for DeepFool); one PGD step moves a pixel by eps / 4 >= 3.75e-3
ROUNDING = 1e-12


@pytest.fixture(scope="module")
def test_split(digits_h5, trained_model):
    """The trained digits model and its whole test split (360 images, 16 px), in float64."""
    model, _ = load_model(trained_model)
    for p in model.parameters():
        p.requires_grad_(False)
    split = load_split(digits_h5, "test")
    images = to_float(split.images, CPU).double()
    return model.double().eval(), images, torch.as_tensor(split.labels)


@pytest.fixture(scope="module")
def batch64(attack_batch):
    """attack_batch (96 images) with a float64 copy of its model."""
    model, images, labels = attack_batch
    return copy.deepcopy(model).double().eval(), images.double(), labels


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


@pytest.mark.parity
@pytest.mark.parametrize("eps", [0.02, 0.1])
def test_fgsm_equals_foolbox(batch64, eps):
    model, images, labels = batch64
    ours = build_attack(model, {"method": "fgsm", "eps": eps}, 10)(images, labels)
    _, theirs, _ = foolbox.attacks.FGSM()(fmodel(model), images, labels, epsilons=eps)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=ROUNDING)


class SameStartLinfPGD(foolbox.attacks.LinfPGD):
    """foolbox's L-inf PGD with its random start drawn as torchattacks' PGD draws it
    (uniform_(-eps, eps) on a tensor like the images, from torch's global generator), so that
    with the same seed both codes start from the same point and must then agree exactly."""

    def get_random_start(self, x0: ep.Tensor, epsilon: float) -> ep.Tensor:
        return x0 + ep.astensor(torch.empty_like(x0.raw).uniform_(-epsilon, epsilon))


def pgd_pair(model, images, labels, eps: float, our_steps: int):
    """(ours, foolbox's) L-inf PGD images from the same random start: 10 foolbox steps of
    eps / 4, `our_steps` of ours."""
    step = eps / 4
    torch.manual_seed(0)
    spec = {"method": "pgd", "eps": eps, "alpha": step, "steps": our_steps}
    ours = build_attack(model, spec, 10)(images, labels)
    torch.manual_seed(0)
    attack = SameStartLinfPGD(abs_stepsize=step, steps=10, random_start=True)
    _, theirs, _ = attack(fmodel(model), images, labels, epsilons=eps)
    return ours, theirs


@pytest.mark.parity
@pytest.mark.parametrize("eps", [0.015, 0.02])
def test_pgd_equals_foolbox_from_the_same_start(test_split, eps):
    model, images, labels = test_split
    ours, theirs = pgd_pair(model, images, labels, eps, our_steps=10)
    assert 0.1 < accuracy(model, theirs, labels) < 0.9  # an eps where attacks differ at all
    torch.testing.assert_close(ours, theirs, rtol=0, atol=ROUNDING)
    assert accuracy(model, ours, labels) == accuracy(model, theirs, labels)


@pytest.mark.parity
def test_the_pgd_comparison_catches_one_step_fewer(test_split):
    model, images, labels = test_split
    ours, theirs = pgd_pair(model, images, labels, 0.02, our_steps=9)
    assert (ours - theirs).abs().max() > 1e6 * ROUNDING


@pytest.mark.parity
def test_deepfool_equals_foolbox_and_fools_every_correct_image(test_split):
    model, images, labels = test_split
    spec = {"method": "deepfool", "steps": 50, "overshoot": 0.02}
    ours = build_attack(model, spec, 10)(images, labels)
    attack = foolbox.attacks.L2DeepFoolAttack(steps=50, overshoot=0.02, candidates=None)
    _, theirs, _ = attack(fmodel(model), images, labels, epsilons=None)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=ROUNDING)
    assert success(model, ours, images, labels) >= 0.99


@pytest.mark.parity
def test_cw_fools_all_but_a_few_of_the_images_foolbox_fools(batch64):
    """torchattacks' C&W (ours) and foolbox's are two codes of Carlini & Wagner's L2 attack that
    differ on purpose: torchattacks maps images to tanh space with atanh(2x - 1), so a pixel at
    exactly 0 or 1 (the digits' black background) sits at +-inf with zero gradient and never
    moves, where foolbox scales by 0.999999 first; torchattacks takes the runner-up logit as a
    max over zero-masked logits; their early-abort rules differ. So ours may miss a few images
    that foolbox fools at the same constant: at most 3 of the ~86 correctly classified images
    (measured in float64: 1), and never fools fewer than 90 % of them. float64 makes the
    outcome independent of the CPU's kernels (the model itself is trained in float32 here)."""
    model, images, labels = batch64
    c, steps, lr = 1.0, 30, 0.01
    spec = {"method": "cw", "c": c, "kappa": 0.0, "steps": steps, "lr": lr}
    ours = build_attack(model, spec, 10)(images, labels)
    # one optimisation at our constant: foolbox's binary search over c reduced to that c
    attack = foolbox.attacks.L2CarliniWagnerAttack(
        binary_search_steps=1, steps=steps, stepsize=lr, confidence=0, initial_const=c
    )
    _, _, fooled = attack(fmodel(model), images, labels, epsilons=None)
    correct = predictions(model, images) == labels
    ours_fooled = predictions(model, ours) != labels
    assert fooled[correct].double().mean() > 0.5
    assert (fooled & correct & ~ours_fooled).sum() <= 3
    assert ours_fooled[correct].double().mean() >= 0.9


@pytest.mark.parity
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
