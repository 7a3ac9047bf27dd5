"""Our batched DeepFool makes the perturbations foolbox's L2DeepFoolAttack makes.

foolbox 3 is the reference implementation of Moosavi-Dezfooli et al.'s algorithm (overshoot
on the accumulated perturbation, candidates ranked once by the clean logits); ours must give
the same images, batched. torchattacks' DeepFool, which ours copied before, differs: it
applies the overshoot per step and ends on the decision boundary.
"""

import foolbox
import pytest
import torch
import torchattacks

from robustsweep.attacks.batched_deepfool import BatchedDeepFool
from robustsweep.attacks.methods import build_attack


@pytest.fixture(scope="module")
def batch(attack_batch):
    model, images, labels = attack_batch
    return model, images[:64], labels[:64]


def foolbox_deepfool(model, images, labels, **settings):
    attack = foolbox.attacks.L2DeepFoolAttack(**settings)
    _, adversarial, _ = attack(
        foolbox.PyTorchModel(model.eval(), bounds=(0, 1)), images, labels, epsilons=None
    )
    return adversarial


def predictions(model, images):
    with torch.no_grad():
        return model(images).argmax(1)


@pytest.mark.parametrize(
    "steps, overshoot, candidates", [(50, 0.02, None), (3, 0.0, None), (20, 0.5, 3)]
)
def test_same_images_as_foolbox(batch, steps, overshoot, candidates):
    model, images, labels = batch
    ours = BatchedDeepFool(model, steps, overshoot, candidates)(images, labels)
    theirs = foolbox_deepfool(
        model, images, labels, steps=steps, overshoot=overshoot, candidates=candidates
    )
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-5)
    assert torch.equal(predictions(model, ours), predictions(model, theirs))


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
