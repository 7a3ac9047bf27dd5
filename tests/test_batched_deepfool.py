"""Our batched DeepFool makes the perturbations foolbox's L2DeepFoolAttack makes.

foolbox 3 is the reference implementation of Moosavi-Dezfooli et al.'s algorithm (overshoot
on the accumulated perturbation, candidates ranked once by the clean logits); ours must give
the same images, batched. torchattacks' DeepFool, which ours copied before, differs: it
applies the overshoot per step and ends on the decision boundary.

Both sides run in float64 on the same model and images (issue #29): DeepFool is
deterministic, so the two codes agree to float64 rounding whatever SIMD kernels torch picks on
this CPU, and a tolerance of 1e-12 (measured: 1.1e-16 after 50 steps) tells a real change of
the algorithm (a changed overshoot moves pixels by 5e-3 or more) from rounding.
"""

import copy

import foolbox
import pytest
import torch
import torchattacks

from robustsweep.attacks.batched_deepfool import BatchedDeepFool
from robustsweep.attacks.methods import build_attack

ROUNDING = 1e-12  # float64: the two codes differ by reordered sums only (see the docstring)


@pytest.fixture(scope="module")
def batch(attack_batch):
    """The trained digits model and 64 test images, both in float64."""
    model, images, labels = attack_batch
    return copy.deepcopy(model).double().eval(), images[:64].double(), labels[:64]


def foolbox_deepfool(model, images, labels, **settings):
    attack = foolbox.attacks.L2DeepFoolAttack(**settings)
    _, adversarial, _ = attack(
        foolbox.PyTorchModel(model.eval(), bounds=(0, 1)), images, labels, epsilons=None
    )
    return adversarial


def predictions(model, images):
    with torch.no_grad():
        return model(images).argmax(1)


SETTINGS = [(50, 0.02, None), (3, 0.0, None), (20, 0.5, 3)]


@pytest.mark.parity
@pytest.mark.parametrize("steps, overshoot, candidates", SETTINGS)
def test_same_images_as_foolbox(batch, steps, overshoot, candidates):
    model, images, labels = batch
    ours = BatchedDeepFool(model, steps, overshoot, candidates)(images, labels)
    theirs = foolbox_deepfool(
        model, images, labels, steps=steps, overshoot=overshoot, candidates=candidates
    )
    torch.testing.assert_close(ours, theirs, rtol=0, atol=ROUNDING)
    assert torch.equal(predictions(model, ours), predictions(model, theirs))


@pytest.mark.parity
@pytest.mark.parametrize("steps, overshoot, candidates", SETTINGS)
def test_the_comparison_catches_an_overshoot_off_by_one_percent(
    batch, steps, overshoot, candidates
):
    """The parity test above can fail: our attack with its overshoot off by 0.01 is told apart
    from foolbox's by far more than the rounding tolerance."""
    model, images, labels = batch
    theirs = foolbox_deepfool(
        model, images, labels, steps=steps, overshoot=overshoot, candidates=candidates
    )
    broken = BatchedDeepFool(model, steps, overshoot + 0.01, candidates)(images, labels)
    assert (broken - theirs).abs().max() > 1e6 * ROUNDING


def test_fools_every_correct_image_where_torchattacks_stops_on_the_boundary(batch):
    model, images, labels = batch
    correct = predictions(model, images) == labels
    ours = BatchedDeepFool(model, steps=50)(images, labels)
    theirs = torchattacks.DeepFool(model, steps=50)(images, labels)
    fooled = (predictions(model, ours) != labels)[correct].float().mean().item()
    stuck = (predictions(model, theirs) != labels)[correct].float().mean().item()
    assert fooled == 1.0 and stuck < 0.9
    assert ours.min() >= 0 and ours.max() <= 1


def test_misclassified_images_are_left_untouched(batch):
    model, images, labels = batch
    wrong = (labels + 1) % 10  # every image "misclassified" under these labels (mostly)
    already = predictions(model, images) != wrong
    adversarial = BatchedDeepFool(model, steps=5)(images, wrong)
    assert torch.equal(adversarial[already], images[already])


def test_candidates_limit_the_classes_to_the_top_k(batch):
    model, images, labels = batch
    correct = predictions(model, images) == labels
    adversarial = BatchedDeepFool(model, steps=50, candidates=2)(images, labels)
    with torch.no_grad():
        runner_up = model(images).argsort(1, descending=True)[:, 1]
    # with two candidates the only class DeepFool walks towards is the clean runner-up
    fooled = correct & (predictions(model, adversarial) != labels)
    assert fooled.float().mean() > 0.8
    assert (predictions(model, adversarial)[fooled] == runner_up[fooled]).float().mean() > 0.9
    with pytest.raises(ValueError, match="at least 2"):
        BatchedDeepFool(model, candidates=1)


def test_registry_builds_the_batched_attack(batch):
    spec = {"method": "deepfool", "steps": 7, "overshoot": 0.1, "candidates": 4}
    attack = build_attack(batch[0], spec, 10)
    assert isinstance(attack, BatchedDeepFool)
    assert (attack.steps, attack.overshoot, attack.candidates) == (7, 0.1, 4)
