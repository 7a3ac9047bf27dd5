"""Rounding attacked images to uint8 keeps them within the budget and keeps them adversarial."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import robustsweep.attacks.quantisation as quantisation
from robustsweep.attacks.methods import ATTACK_METHODS
from robustsweep.attacks.quantisation import fit_l2, quantise_attack, round_within_budget

pytestmark = pytest.mark.parity  # rerun under another kernel family: test_cpu_kernels.py

LEVEL = 1 / 255


def image(*levels: float) -> torch.Tensor:
    """A one-image batch (1, 1, 1, n) of grey levels as [0, 1] floats."""
    return torch.tensor(levels, dtype=torch.float32).view(1, 1, 1, -1) / 255


def method(spec: dict):
    return ATTACK_METHODS.build(spec)


def predictions(model, images):
    with torch.no_grad():
        return model(images).argmax(1)


def test_linf_rounds_towards_the_clean_pixel_where_nearest_would_cross_eps():
    clean = image(100, 100, 100, 0, 255)
    # eps 0.1 is 25.5 levels: nearest rounding of +-25.5 gives 26 levels, past the budget
    adversarial = image(125.5, 74.5, 112.4, 25.5, 229.6)
    levels = round_within_budget(clean, adversarial, ("Linf", 0.1))
    assert levels.flatten().tolist() == [125, 75, 112, 25, 230]
    # a budget of whole levels keeps them: 8/255 is 7.999999... levels in floats
    levels = round_within_budget(image(10), image(18), ("Linf", 8 / 255))
    assert levels.flatten().tolist() == [18]


def test_outward_rounding_leaves_untouched_pixels_alone():
    clean = image(100, 100, 100, 100)
    # float noise of an untouched pixel (1e-5 levels) is no perturbation to round outward
    adversarial = clean + torch.tensor([1e-5 / 255, 0.3 / 255, -0.3 / 255, -1.0 / 255]).view(
        1, 1, 1, 4
    )
    levels = round_within_budget(clean, adversarial, ("Linf", 0.1), outward=True)
    assert levels.flatten().tolist() == [100, 101, 99, 99]


def test_l2_moves_back_the_pixels_rounded_outward_most_until_the_norm_fits():
    # five pixels 0.9 levels out: norm 2.01 > 2 levels, projected to 0.894 each; nearest
    # rounding gives five whole levels (norm 2.24); one pixel moved back gives norm 2
    clean = image(50, 50, 50, 50, 50)
    levels = round_within_budget(clean, image(*[50.9] * 5), ("L2", 2 / 255))
    delta = levels - 50
    assert sorted(delta.flatten().tolist()) == [0, 1, 1, 1, 1]
    # a perturbation whose rounding already fits is rounded to the nearest level
    levels = round_within_budget(image(50, 50, 50), image(51.4, 50.6, 49.6), ("L2", 2 / 255))
    assert levels.flatten().tolist() == [51, 51, 50]


def test_fit_l2_on_random_perturbations_is_inside_the_ball_and_one_level_from_float():
    generator = torch.Generator().manual_seed(0)
    delta = torch.randn(64, 3, 8, 8, generator=generator) * 3
    radius = 20.0
    delta = delta * (radius / delta.flatten(1).norm(dim=1)).clamp(max=1).view(-1, 1, 1, 1)
    fitted = fit_l2(delta.round(), delta, radius)
    assert (fitted.flatten(1).norm(dim=1) <= radius + 1e-4).all()
    assert ((fitted - delta).abs() < 1).all()  # each pixel is the floor or ceil of its float
    # only as many pixels as needed were moved: one fewer would not fit
    moved = (fitted != delta.round()).flatten(1).sum(1)
    rounded_norm = delta.round().flatten(1).norm(dim=1)
    assert (moved[rounded_norm <= radius] == 0).all() and (moved[rounded_norm > radius] > 0).all()


def barely_adversarial(model, images, labels, perturbation):
    """Each image moved along `perturbation` just past its decision boundary (bisection in
    float): adversarial in float, but rounding to uint8 can undo it."""
    low = torch.zeros(len(images))
    high = torch.ones(len(images))
    for _ in range(30):
        middle = (low + high) / 2
        moved = (images + middle.view(-1, 1, 1, 1) * perturbation).clamp(0, 1)
        fooled = predictions(model, moved) != labels
        high = torch.where(fooled, middle, high)
        low = torch.where(fooled, low, middle)
    return (images + high.view(-1, 1, 1, 1) * perturbation).clamp(0, 1)


@pytest.fixture(scope="module")
def boundary_batch(attack_batch):
    """Correctly classified images with PGD perturbations cut back to just past the boundary."""
    model, images, labels = attack_batch
    correct = predictions(model, images) == labels
    images, labels = images[correct], labels[correct]
    torch.manual_seed(0)
    spec = {"method": "pgd", "eps": 0.1, "alpha": 0.025, "steps": 10}
    full = method(spec).build(model, 10)(images, labels)
    fooled = predictions(model, full) != labels
    images, labels, full = images[fooled], labels[fooled], full[fooled]
    adversarial = barely_adversarial(model, images, labels, full - images)
    return model, images, labels, adversarial


def test_bounded_repair_refools_on_the_grid_within_the_budget(boundary_batch):
    model, images, labels, adversarial = boundary_batch
    pgd = method({"method": "pgd", "eps": 0.1})
    assert (predictions(model, adversarial) != labels).all()
    nearest = round_within_budget(images, adversarial, pgd.budget()) / 255
    lost = predictions(model, nearest) == labels
    assert lost.sum() >= 5  # rounding undoes a good share of boundary examples
    batch = quantise_attack(model, pgd, images, adversarial, labels)
    assert torch.equal(batch.repaired, lost)
    stored = batch.images.permute(0, 3, 1, 2).float() / 255
    assert torch.equal(predictions(model, stored), batch.final_pred)
    assert (batch.final_pred != labels).float().mean() > 0.95
    # float32 images: 1e-7 covers k / 255 rounded to float32 (an ulp near 0.1 is 7e-9)
    assert ((stored - images).abs().amax(dim=(1, 2, 3)) <= 25 * LEVEL + 1e-7).all()


class PixelDifference(torch.nn.Module):
    """Class 1 when the first pixel exceeds the second by more than 0.2 grey levels."""

    def forward(self, x):
        flat = x.flatten(1)
        score = (flat[:, 0] - flat[:, 1]) * 255 - 0.2
        return torch.stack([torch.zeros_like(score), score], dim=1)


def test_gradient_repair_where_rounding_either_way_loses_the_attack():
    # float: +0.45 and +0.2 levels, a difference of 0.25 > 0.2 (fooled); nearest rounding
    # gives (+0, +0), outward rounding (+1, +1): both a difference of 0, not fooled. One
    # signed-gradient step on the grid (+1, -1) fools it again, within 2 levels.
    model = PixelDifference()
    clean, adversarial, labels = image(100, 100), image(100.45, 100.2), torch.tensor([0])
    outward = round_within_budget(clean, adversarial, ("Linf", 2 / 255), outward=True)
    assert outward.flatten().tolist() == [101, 101]
    batch = quantise_attack(
        model, method({"method": "pgd", "eps": 2 / 255}), clean, adversarial, labels
    )
    assert batch.repaired.tolist() == [True] and batch.final_pred.tolist() == [1]
    stored = batch.images.flatten().tolist()
    assert stored[0] - stored[1] >= 1 and max(abs(v - 100) for v in stored) <= 2


def test_black_box_repair_reads_no_gradient(monkeypatch):
    def no_gradients(*args, **kwargs):
        raise AssertionError("a black-box attack was repaired with gradients")

    monkeypatch.setattr(quantisation, "grid_steps", no_gradients)
    model = PixelDifference()
    clean, adversarial, labels = image(100, 100), image(100.45, 100.2), torch.tensor([0])
    square = method({"method": "square", "eps": 2 / 255})
    batch = quantise_attack(model, square, clean, adversarial, labels)
    # repair needed, tried without gradients (outward rounding), failed: nearest rounding kept
    assert batch.repaired.tolist() == [True] and batch.final_pred.tolist() == [0]
    assert batch.images.flatten().tolist() == [100, 100]
    with pytest.raises(AssertionError, match="black-box"):
        quantise_attack(
            model, method({"method": "pgd", "eps": 2 / 255}), clean, adversarial, labels
        )


def test_minimal_norm_repair_pushes_along_the_perturbation(attack_batch):
    model, images, labels = attack_batch
    deepfool = method({"method": "deepfool", "steps": 50})
    adversarial = deepfool.build(model, 10)(images, labels)
    batch = quantise_attack(model, deepfool, images, adversarial, labels)
    correct = batch.clean_pred == labels
    nearest = round_within_budget(images, adversarial, None) / 255
    plain = (predictions(model, nearest) != labels)[correct].float().mean()
    final = (batch.final_pred != labels)[correct].float().mean()
    assert plain < 0.8 and final >= 0.95  # DeepFool ends just past the boundary
    fixed = batch.repaired & (batch.final_pred != labels)
    assert fixed.sum() > 0
    # a repaired image is the float perturbation scaled by one of SCALES, then rounded
    stored_levels = batch.images.permute(0, 3, 1, 2).float()
    for row in fixed.nonzero().squeeze(1):
        clean, pushed = images[row : row + 1], adversarial[row : row + 1]
        matches = [
            scale
            for scale in quantisation.SCALES
            if torch.equal(
                round_within_budget(clean, clean + scale * (pushed - clean), None)[0],
                stored_levels[row],
            )
        ]
        assert matches and max(matches) <= quantisation.MAX_SCALE


def test_noise_is_rounded_but_never_repaired(attack_batch, monkeypatch):
    model, images, labels = attack_batch
    gn = method({"method": "gn", "std": 0.3})
    torch.manual_seed(0)
    noisy = gn.build(model, 10)(images, labels)
    batch = quantise_attack(model, gn, images, noisy, labels)
    nearest = round_within_budget(images, noisy, None)
    assert torch.equal(batch.images.permute(0, 3, 1, 2).float(), nearest)
    # where rounding undoes noise that happened to fool, it is recorded and left as it is
    monkeypatch.setattr(quantisation, "repair", lambda *args: pytest.fail("noise repaired"))
    clean, moved = image(100, 100), image(100.45, 100.2)
    batch = quantise_attack(PixelDifference(), gn, clean, moved, torch.tensor([0]))
    assert batch.repaired.tolist() == [True] and batch.images.flatten().tolist() == [100, 100]


def test_unbounded_rounding_is_the_nearest_level_and_norms_match_float64():
    # no budget: every pixel at its nearest grey level (ties to even), whatever the clean one
    from robustsweep.attacks.success_report import perturbation_norms

    generator = torch.Generator().manual_seed(0)
    clean = torch.rand(4, 3, 5, 5, generator=generator)
    adversarial = (clean + 0.05 * torch.randn(4, 3, 5, 5, generator=generator)).clamp(0, 1)
    adversarial[0, 0, 0, :2] = torch.tensor([2.0, -1.0])  # clipped to the range
    levels = round_within_budget(clean, adversarial, None)
    grey = adversarial.clamp(0, 1) * 255
    assert torch.equal(levels, grey.round()) and (levels - grey).abs().max() <= 0.5
    assert levels[0, 0, 0, :2].tolist() == [255.0, 0.0]
    assert torch.equal(round_within_budget(1 - clean, adversarial, None), levels)
    # the norms, from integer differences, against the plain float64 arithmetic
    before = (clean * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    after = levels.to(torch.uint8).permute(0, 2, 3, 1).numpy()
    delta = (after.astype(np.float64) - before.astype(np.float64)).reshape(4, -1) / 255
    linf, l2 = perturbation_norms(before, after)
    np.testing.assert_array_equal(linf, np.abs(delta).max(1))
    np.testing.assert_allclose(l2, np.sqrt((delta**2).sum(1)), rtol=1e-15)
