"""Our batched DeepFool makes the perturbations torchattacks' per-image DeepFool makes."""

import pytest
import torch
import torchattacks

from robustsweep.attacks.batched_deepfool import BatchedDeepFool
from robustsweep.attacks.methods import build_attack


@pytest.fixture(scope="module")
def batch(attack_batch):
    model, images, labels = attack_batch
    return model, images[:64], labels[:64]


def margin(logits: torch.Tensor) -> torch.Tensor:
    top2 = logits.topk(2, dim=1).values
    return top2[:, 0] - top2[:, 1]


@pytest.mark.parametrize("steps, overshoot", [(20, 0.02), (2, 0.0), (50, 0.5)])
def test_same_labels_and_norms_as_torchattacks(batch, steps, overshoot):
    model, images, labels = batch
    # Digits are mostly pixels at exactly 0 or 1; clipping there shortens every step, so both
    # implementations creep up to the boundary and stop on a tie (top-2 logits equal to 1e-7)
    # where the argmax is float noise. Mid-grey contrast keeps the steps unclipped.
    images = 0.25 + 0.5 * images
    ours = BatchedDeepFool(model, steps=steps, overshoot=overshoot)(images, labels)
    theirs = torchattacks.DeepFool(model, steps=steps, overshoot=overshoot)(images, labels)
    with torch.no_grad():
        ours_logits, theirs_logits = model(ours), model(theirs)
    ours_pred, theirs_pred = ours_logits.argmax(1), theirs_logits.argmax(1)
    # Where the labels are decided (not on a boundary to float noise), they must agree.
    decided = (margin(ours_logits) > 1e-4) & (margin(theirs_logits) > 1e-4)
    assert decided.float().mean().item() > 0.5
    assert torch.equal(ours_pred[decided], theirs_pred[decided])
    ours_norm = (ours - images).flatten(1).norm(dim=1)
    theirs_norm = (theirs - images).flatten(1).norm(dim=1)
    torch.testing.assert_close(ours_norm, theirs_norm, rtol=1e-3, atol=1e-4)
    # the attack actually moved images: most correct predictions flip with enough steps
    if steps >= 20:
        assert (ours_pred == labels).float().mean().item() < 0.5


def test_clipped_steps_give_the_same_norms(batch):
    model, images, labels = batch
    ours = BatchedDeepFool(model, steps=20)(images, labels)
    theirs = torchattacks.DeepFool(model, steps=20)(images, labels)
    for adversarial in (ours, theirs):
        assert adversarial.min().item() >= 0 and adversarial.max().item() <= 1
    torch.testing.assert_close(ours, theirs, rtol=1e-3, atol=1e-4)


def test_misclassified_images_are_left_untouched(batch):
    model, images, labels = batch
    wrong = (labels + 1) % 10  # every image "misclassified" under these labels (mostly)
    with torch.no_grad():
        already = model(images).argmax(1) != wrong
    adversarial = BatchedDeepFool(model, steps=5)(images, wrong)
    assert torch.equal(adversarial[already], images[already])


def test_registry_builds_the_batched_attack(batch):
    attack = build_attack(batch[0], {"method": "deepfool", "steps": 7, "overshoot": 0.1}, 10)
    assert isinstance(attack, BatchedDeepFool)
    assert (attack.steps, attack.overshoot) == (7, 0.1)
