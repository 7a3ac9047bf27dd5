"""Model registry: config names to torch modules that take images in [0, 1].

Normalisation lives inside the model (`Normalized`), so attacks, the store and training all work
in pixel space [0, 1], which is what torchattacks expects.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import nn

DIGITS_MEAN = (0.5, 0.5, 0.5)
DIGITS_STD = (0.5, 0.5, 0.5)


class Normalized(nn.Module):
    """Wrap a network so it normalises its input; the attack surface stays [0, 1]."""

    def __init__(self, net: nn.Module, mean: tuple[float, ...], std: tuple[float, ...]):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net((images - self.mean) / self.std)


def small_cnn(num_classes: int, width: int = 32) -> nn.Module:
    """A four-conv CNN: fast on CPU, strong enough on 32x32 digits to make attacks meaningful."""

    def block(cin: int, cout: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )

    return nn.Sequential(
        block(3, width),
        block(width, 2 * width),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(2 * width, num_classes),
    )


def resnet(
    depth: int,
    num_classes: int,
    small_input_stem: bool = True,
    upsample: int = 1,
    last_stride: int = 2,
    pooling: str = "avg",
) -> nn.Module:
    """torchvision's ResNet-18/34/50 with seed 003's feature-map modifiers.

    small_input_stem: for 32x32 inputs the stem becomes a 3x3 stride-1 conv without
    max-pooling (the usual CIFAR adaptation), so the last stage still sees a 4x4 map.
    upsample: bilinear input upsampling by this factor (larger maps in every stage).
    last_stride: stride of the last stage's downsampling; 1 doubles the map before pooling.
    pooling: global "avg" (where larger maps help, per Xu et al.) or "max" (where they do not).
    None of these changes the parameter count.
    """
    from torchvision import models

    net = getattr(models, f"resnet{depth}")(weights=None, num_classes=num_classes)
    if small_input_stem:
        net.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
    first = net.layer4[0]
    strided = first.conv2 if isinstance(first, models.resnet.Bottleneck) else first.conv1
    strided.stride = (last_stride, last_stride)
    first.downsample[0].stride = (last_stride, last_stride)
    if pooling == "max":
        net.avgpool = nn.AdaptiveMaxPool2d(1)
    if upsample > 1:
        scale = nn.Upsample(scale_factor=upsample, mode="bilinear", align_corners=False)
        net = nn.Sequential(scale, net)
    return net


def resnet18(num_classes: int, **options) -> nn.Module:
    return resnet(18, num_classes, **options)


def resnet34(num_classes: int, **options) -> nn.Module:
    return resnet(34, num_classes, **options)


def resnet50(num_classes: int, **options) -> nn.Module:
    return resnet(50, num_classes, **options)


def vgg19_bn(num_classes: int, small_input_stem: bool = True) -> nn.Module:
    """torchvision's VGG19-BN (seed 002). For 32x32 inputs the five max-pools leave a 1x1 map,
    so the 7x7 average pool and the 4096-wide classifier (100 M parameters of copies) become a
    512-wide classifier, the CIFAR variant seed 002 compares against."""
    from torchvision import models

    net = models.vgg19_bn(weights=None, num_classes=num_classes)
    if small_input_stem:
        net.avgpool = nn.AdaptiveAvgPool2d(1)
        net.classifier = nn.Sequential(
            nn.Linear(512, 512),
            nn.ReLU(inplace=True),
            nn.Dropout(),
            nn.Linear(512, 512),
            nn.ReLU(inplace=True),
            nn.Dropout(),
            nn.Linear(512, num_classes),
        )
    return net


def shufflenet_v2(num_classes: int, width: str, small_input_stem: bool = True) -> nn.Module:
    """torchvision's ShuffleNetV2 (seed 002); for 32x32 inputs a stride-1 stem without
    max-pooling, as for ResNet."""
    from torchvision import models

    net = getattr(models, f"shufflenet_v2_{width}")(weights=None, num_classes=num_classes)
    if small_input_stem:
        net.conv1[0].stride = (1, 1)
        net.maxpool = nn.Identity()
    return net


def repvgg_a2(num_classes: int, small_input_stem: bool = True) -> nn.Module:
    """timm's RepVGG-A2 (seed 002); for 32x32 inputs its stem's two branches get stride 1."""
    import timm

    net = timm.create_model("repvgg_a2", pretrained=False, num_classes=num_classes)
    if small_input_stem:
        net.stem.conv_kxk.conv.stride = (1, 1)
        net.stem.conv_1x1.conv.stride = (1, 1)
    return net


ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {
    "small_cnn": small_cnn,
    "resnet18": resnet18,
    "resnet34": resnet34,
    "resnet50": resnet50,
    "vgg19_bn": vgg19_bn,
    "shufflenet_v2_x0_5": partial(shufflenet_v2, width="x0_5"),
    "shufflenet_v2_x1_0": partial(shufflenet_v2, width="x1_0"),
    "repvgg_a2": repvgg_a2,
}


def build_model(architecture: str, num_classes: int, options: dict | None = None) -> nn.Module:
    """Build a registered architecture with its options, wrapped to take [0, 1] images."""
    if architecture not in ARCHITECTURES:
        raise ValueError(
            f"unknown architecture '{architecture}'; allowed: {', '.join(sorted(ARCHITECTURES))}"
        )
    net = ARCHITECTURES[architecture](num_classes=num_classes, **(options or {}))
    return Normalized(net, DIGITS_MEAN, DIGITS_STD)


def parameter_count(model: nn.Module) -> int:
    """Trainable parameters, recorded with every result (seed 000, Figs. 10-11)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def feature_stages(model: nn.Module) -> list[nn.Module]:
    """The modules whose outputs are the network's successive feature maps, shallow to deep.

    Seed 001's detector reads these maps; forward hooks on them capture the maps without
    changing the network. `model` is what build_model returns.
    """
    from torchvision.models import VGG, ResNet, ShuffleNetV2

    net = model.net if isinstance(model, Normalized) else model
    if isinstance(net, nn.Sequential) and isinstance(net[0], nn.Upsample):
        net = net[1]  # a ResNet behind seed 003's input upsampling
    if isinstance(net, ResNet):
        return [net.layer1, net.layer2, net.layer3, net.layer4]
    if isinstance(net, VGG):
        return [m for m in net.features if isinstance(m, nn.MaxPool2d)]
    if isinstance(net, ShuffleNetV2):
        return [net.stage2, net.stage3, net.stage4]
    if hasattr(net, "stages"):  # timm's ByobNet (RepVGG)
        return list(net.stages)
    return [m for m in net if isinstance(m, nn.Sequential)]  # small_cnn's blocks
