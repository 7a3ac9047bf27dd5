"""Grad-CAM, Guided Backprop (also through GELU, SiLU, Hardswish), Guided Grad-CAM, Fig. 9."""

import numpy as np
import pytest
import torch
from torch import nn

from robustsweep.reporting.class_activation_maps import (
    GuidedBackpropActivation,
    explain,
    gradient_edge_image,
    guided_activations,
    guided_backprop,
)


def tiny_net(activation: type[nn.Module]) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        activation(),
        nn.Conv2d(8, 8, 3, padding=1),
        activation(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 4),
    ).eval()


def image() -> torch.Tensor:
    return torch.rand(3, 12, 12, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize(
    "function", [nn.functional.gelu, nn.functional.silu, nn.functional.hardswish]
)
def test_guided_backward_is_the_guided_rule(function):
    x = torch.linspace(-3, 3, 61, requires_grad=True)
    upstream = torch.sin(torch.arange(61.0))  # positive and negative incoming gradients
    GuidedBackpropActivation(function)(x).backward(upstream)
    probe = x.detach().requires_grad_(True)
    (derivative,) = torch.autograd.grad(function(probe).sum(), probe)
    expected = upstream * derivative * (x.detach() > 0) * (upstream > 0)
    # float32, the same operations regrouped: assert_close's float32 default (rtol 1.3e-6, atol
    # 1e-5) is a few ulps of these O(1) values
    torch.testing.assert_close(x.grad, expected)
    assert (x.grad >= 0).all() and (x.grad > 0).any()


def test_forward_is_unchanged_and_the_same_modules_come_back():
    model = tiny_net(nn.GELU)
    originals = [m for m in model.modules() if isinstance(m, nn.GELU)]
    before = model(image()[None])
    with guided_activations(model) as count:
        assert count == 2
        assert not any(isinstance(m, nn.GELU) and m in originals for m in model[1:4])
        # float32, the same operations regrouped: assert_close's float32 default (rtol 1.3e-6, atol
        # 1e-5) is a few ulps of these O(1) values
        torch.testing.assert_close(model(image()[None]), before)
    assert [m for m in model.modules() if isinstance(m, nn.GELU)] == originals


@pytest.mark.parametrize("activation", [nn.GELU, nn.SiLU, nn.Hardswish])
def test_smooth_activation_network_gets_guided_not_plain_gradients(activation):
    model = tiny_net(activation)
    x = image()
    guided = guided_backprop(model, x, target=2)
    plain_input = x[None].clone().requires_grad_(True)
    model(plain_input)[0, 2].backward()
    plain = plain_input.grad[0].permute(1, 2, 0).numpy()
    assert guided.shape == (12, 12, 3)
    # float32 gradients: differences above a few ulps (1e-6) are real
    assert not np.allclose(guided, plain, atol=1e-6)  # the library alone would return `plain`


def test_relu_network_matches_the_library():
    from pytorch_grad_cam import GuidedBackpropReLUModel

    model = tiny_net(nn.ReLU)
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    ours = guided_backprop(model, image(), target=1)
    assert [m for m in model.modules() if isinstance(m, nn.ReLU)] == relus  # same instances
    theirs = GuidedBackpropReLUModel(model=model, device=torch.device("cpu"))(
        image()[None], target_category=1
    )
    # float32, the same backward pass through the same layers: rtol 1e-6 is ~8 ulps
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_explanation_maps_have_display_ranges():
    model = tiny_net(nn.GELU)
    result = explain(model, model[2], image(), target=0)
    assert result.cam.shape == (12, 12) and result.cam.min() >= 0 and result.cam.max() <= 1
    for picture in (result.guided, result.guided_cam):
        assert picture.shape == (12, 12, 3) and picture.min() >= 0 and picture.max() <= 1


@pytest.mark.parametrize("size", [224, 33])
def test_gradient_edge_image_has_one_sharp_edge_in_the_middle(size):
    picture = gradient_edge_image(size)
    assert picture.shape == (size, size, 3) and picture.dtype == np.uint8
    row = picture[0, :, 0].astype(int)
    steps = np.diff(row)
    assert row[0] == 255 and row[-1] == 0
    assert np.argmax(steps) == size // 2 - 1 and steps.max() == 255  # black meets white
    assert (np.delete(steps, size // 2 - 1) <= 0).all()  # elsewhere: smooth darkening


def test_convnext_gelus_are_all_guided_and_the_maps_come_out():
    from torchvision.models import convnext_tiny

    torch.manual_seed(0)
    model = convnext_tiny(num_classes=4).eval()
    with guided_activations(model) as count:
        assert count == 3 + 3 + 9 + 3  # one GELU per block of ConvNeXt-T's four stages
        assert not any(isinstance(m, nn.GELU) for m in model.modules())
    assert sum(isinstance(m, nn.GELU) for m in model.modules()) == 18
    x = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(2))
    result = explain(model, model.features[-1], x, target=3)
    assert result.cam.shape == (32, 32) and result.guided.shape == (32, 32, 3)
    assert np.ptp(result.guided) > 0


def test_confident_mistakes_are_the_surest_wrong_answers_in_order():
    from robustsweep.reporting.mistake_explanations import confident_mistakes

    logits = np.array(
        [[5.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 9.0], [1.0, 0.0, 0.0], [0.0, 5.0, 0.0]]
    )
    labels = np.array([10, 10, 30, 20, 10])  # class ids; logits stand for 10, 20, 30
    mistakes = confident_mistakes(logits, labels, [10, 20, 30], k=2)
    assert [(m.row, m.label, m.predicted) for m in mistakes] == [(4, 10, 20), (1, 10, 20)]
    sure = [np.exp(5) / (np.exp(5) + 2), np.exp(3) / (np.exp(3) + 2)]
    # float64 on both sides (numpy): the default rtol 1e-7 is far above float64 rounding
    np.testing.assert_allclose([m.confidence for m in mistakes], sure)
    assert len(confident_mistakes(logits, labels, [10, 20, 30], k=9)) == 3


def hand_grad_cam(model: nn.Module, layer: nn.Module, x: torch.Tensor, score) -> np.ndarray:
    """Grad-CAM by its equations: weights are the spatial means of the score's gradient at
    the layer's maps (Eq. 2), the map is the ReLU of their weighted sum (Eq. 3), scaled to
    [0, 1] for display (the library scales twice, so its 1e-7 guard against a zero map cancels
    out)."""
    kept = {}
    handle = layer.register_forward_hook(lambda module, inputs, output: kept.update(maps=output))
    output = model(x[None])
    handle.remove()
    (gradient,) = torch.autograd.grad(score(output)[0], kept["maps"])
    weights = gradient.mean((2, 3))[..., None, None]
    cam = torch.relu((weights * kept["maps"]).sum(1))[0].detach().numpy()
    cam = cam - cam.min()
    return cam / cam.max()


def test_grad_cam_of_the_softmax_probability_is_zhu2025_eq_1():
    from robustsweep.reporting.class_activation_maps import grad_cam

    model, x, target = tiny_net(nn.ReLU), image(), 1
    layer = model[2]  # the last conv: 12 x 12 maps, so no resizing blurs the comparison
    softmax = grad_cam(model, layer, x, target, score="softmax")
    logit = grad_cam(model, layer, x, target)
    expected = hand_grad_cam(model, layer, x, lambda out: out.softmax(1)[:, target])
    # float32 maps normalised to [0, 1]: atol 1e-5 is ~100 ulps of 1 for the regrouped sums of the
    # library vs our hand code
    np.testing.assert_allclose(softmax, expected, atol=1e-5)
    by_logit = hand_grad_cam(model, layer, x, lambda out: out[:, target])
    np.testing.assert_allclose(logit, by_logit, atol=1e-5)
    assert np.abs(softmax - logit).max() > 0.05  # the two scores give different maps
    with pytest.raises(ValueError, match="not one of"):
        grad_cam(model, layer, x, target, score="probability")
