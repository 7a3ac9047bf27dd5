"""Grad-CAM, Guided Backprop and Guided Grad-CAM for one image (zhu2025, Figs. 4-9).

The grad-cam library (pytorch_grad_cam) computes all three. Its Guided Backprop swaps only
`nn.ReLU` modules for a guided version, so on a network with smooth activations (GELU in
ConvNeXt, SiLU in EfficientNet, Hardswish in MobileNet-V3) it would silently return the plain
input gradient through them. `GuidedBackpropActivation` is the guided rule for those, written
here because the library has none: the gradient passes where both the activation's input and
the incoming gradient are positive, scaled by the activation's own derivative there. Wherever
the activation behaves like ReLU (derivative 1 for large inputs, 0 for negative ones) this is
the guided ReLU rule. `guided_activations` swaps them in around the library's call and puts
the original modules back, so the model is unchanged afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
from torch import nn

# smooth activation modules -> their function (out of place, so the probe is never modified)
SMOOTH_ACTIVATIONS: dict[type[nn.Module], Callable[[nn.Module], Callable]] = {
    nn.GELU: lambda module: partial(nn.functional.gelu, approximate=module.approximate),
    nn.SiLU: lambda module: nn.functional.silu,
    nn.Hardswish: lambda module: nn.functional.hardswish,
}


class _GuidedActivationFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, activation: Callable) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.activation = activation
        return activation(x)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (x,) = ctx.saved_tensors
        with torch.enable_grad():
            probe = x.detach().requires_grad_(True)
            (derivative,) = torch.autograd.grad(ctx.activation(probe).sum(), probe)
        guided = grad_output * derivative * (x > 0) * (grad_output > 0)
        return guided, None


class GuidedBackpropActivation(nn.Module):
    """Forward: exactly the activation it replaces. Backward: the guided rule (module
    docstring)."""

    def __init__(self, activation: Callable = nn.functional.gelu):
        super().__init__()
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _GuidedActivationFunction.apply(x, self.activation)


def _children_of_type(model: nn.Module, layer_type) -> list:
    return [
        (parent, name, child)
        for parent in model.modules()
        for name, child in parent.named_children()
        if isinstance(child, layer_type)
    ]


@contextmanager
def guided_activations(model: nn.Module):
    """Swap every GELU, SiLU and Hardswish of `model` for GuidedBackpropActivation; afterwards
    put back the very same modules, ReLUs included (the library replaces ReLUs with new
    instances). Yields how many were swapped."""
    smooth = _children_of_type(model, tuple(SMOOTH_ACTIVATIONS))
    relus = _children_of_type(model, nn.ReLU)
    for parent, name, child in smooth:
        function = SMOOTH_ACTIVATIONS[type(child)](child)
        setattr(parent, name, GuidedBackpropActivation(function))
    try:
        yield len(smooth)
    finally:
        for parent, name, child in smooth + relus:
            setattr(parent, name, child)


def guided_backprop(model: nn.Module, image: torch.Tensor, target: int) -> np.ndarray:
    """Guided Backprop of `target` for one (C, H, W) image in [0, 1]: (H, W, C) floats."""
    from pytorch_grad_cam import GuidedBackpropReLUModel

    device = next(model.parameters()).device
    with guided_activations(model):
        guided = GuidedBackpropReLUModel(model=model, device=device)
        return guided(image[None].to(device), target_category=target)


# the class score Grad-CAM differentiates (config explanations.grad_cam_score): the logit, as
# Selvaraju et al. do, or the softmax probability, zhu2025's Eq. 1 ("y is the probability
# vector output by the Softmax layer"); the library ships both targets
GRAD_CAM_SCORES = ("logit", "softmax")


def grad_cam(
    model: nn.Module, layer: nn.Module, image: torch.Tensor, target: int, score: str = "logit"
) -> np.ndarray:
    """Grad-CAM of `target` at `layer` for one (C, H, W) image: (H, W) in [0, 1]; `score` is
    the class score differentiated (GRAD_CAM_SCORES)."""
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import (
        ClassifierOutputSoftmaxTarget,
        ClassifierOutputTarget,
    )

    if score not in GRAD_CAM_SCORES:
        raise ValueError(f"Grad-CAM score {score!r} is not one of {GRAD_CAM_SCORES}")
    target_type = ClassifierOutputSoftmaxTarget if score == "softmax" else ClassifierOutputTarget
    with GradCAM(model=model, target_layers=[layer]) as cam:
        return cam(input_tensor=image[None], targets=[target_type(target)])[0]


@dataclass(frozen=True)
class Explanation:
    """The three maps of one image for one class, ready to draw."""

    cam: np.ndarray  # (H, W) in [0, 1]
    guided: np.ndarray  # (H, W, C), Guided Backprop scaled for display
    guided_cam: np.ndarray  # (H, W, C), Guided Backprop weighted by the CAM, for display


def explain(
    model: nn.Module, layer: nn.Module, image: torch.Tensor, target: int, score: str = "logit"
) -> Explanation:
    """Grad-CAM (of the class `score`, GRAD_CAM_SCORES), Guided Backprop and Guided Grad-CAM
    (their product) of `target`."""
    from pytorch_grad_cam.utils.image import deprocess_image

    model.eval()
    cam = grad_cam(model, layer, image, target, score)
    guided = guided_backprop(model, image, target)
    return Explanation(
        cam=cam,
        guided=deprocess_image(guided) / 255.0,
        guided_cam=deprocess_image(guided * cam[..., None]) / 255.0,
    )


def gradient_edge_image(size: int = 224) -> np.ndarray:
    """zhu2025's Fig. 9 input: two white-to-black gradients side by side, so the black end
    of the first meets the white start of the second in a sharp edge down the middle.
    uint8 (size, size, 3)."""
    half = size // 2
    row = np.concatenate([np.linspace(255, 0, half), np.linspace(255, 0, size - half)])
    return np.repeat(np.tile(row, (size, 1))[..., None], 3, axis=-1).round().astype(np.uint8)
