"""Model registry: config names to torch modules that take images in [0, 1].

Normalisation lives inside the model (`Normalized`), so attacks, the store and training all work
in pixel space [0, 1], which is what torchattacks expects.

Besides the small-image architectures there are torchvision's ImageNet classifiers by name
(seed 000's VGG16, ResNets, EfficientNets, MobileNet-V3s, ConvNeXts) and any timm model as
`timm:<name>`; these normalise with ImageNet's statistics, and with `pretrained` they start
from the library's ImageNet-1k weights (pretrained_weights.py fetches them). A pretrained
1000-class model evaluated on some of ImageNet's classes is wrapped in `SelectedLogits`, which
keeps only those classes' logits (seed 000's slicing to ImageNet-A's 200).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import nn

DIGITS_MEAN = (0.5, 0.5, 0.5)
DIGITS_STD = (0.5, 0.5, 0.5)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGENET_CLASSES = 1000
TIMM_PREFIX = "timm:"

# torchvision's ImageNet classifiers offered by name (seed 000, Table 1 and Figs. 10-11)
TORCHVISION_IMAGENET = (
    "vgg16",
    "resnet101",
    "resnet152",
    "efficientnet_b0",
    "efficientnet_b1",
    "efficientnet_b2",
    "efficientnet_b3",
    "mobilenet_v3_small",
    "mobilenet_v3_large",
    "convnext_tiny",
    "convnext_small",
    "convnext_base",
    "convnext_large",
)


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


def torchvision_imagenet(name: str, num_classes: int) -> nn.Module:
    """A torchvision ImageNet classifier as published (224 px stem). Pretrained weights are
    not loaded here but by pretrained_weights.py, so a saved run rebuilds without them."""
    from torchvision import models

    return models.get_model(name, weights=None, num_classes=num_classes)


def timm_model(name: str, num_classes: int) -> nn.Module:
    """Any timm model by name (`timm:<name>` in the config), built without weights."""
    import timm

    return timm.create_model(name, pretrained=False, num_classes=num_classes)


ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {
    "small_cnn": small_cnn,
    "resnet18": resnet18,
    "resnet34": resnet34,
    "resnet50": resnet50,
    "vgg19_bn": vgg19_bn,
    "shufflenet_v2_x0_5": partial(shufflenet_v2, width="x0_5"),
    "shufflenet_v2_x1_0": partial(shufflenet_v2, width="x1_0"),
    "repvgg_a2": repvgg_a2,
    **{name: partial(torchvision_imagenet, name) for name in TORCHVISION_IMAGENET},
}


class SelectedLogits(nn.Module):
    """A 1000-class ImageNet model that answers for some of its classes only: the logits at
    `positions`, in that order (Lee et al.'s slicing of ImageNet logits to ImageNet-A's 200)."""

    def __init__(self, model: nn.Module, positions: list[int]):
        super().__init__()
        self.model = model
        self.register_buffer("positions", torch.tensor(positions, dtype=torch.long))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images).index_select(1, self.positions)


def is_imagenet_architecture(architecture: str, pretrained: bool | str = False) -> bool:
    """Does this model take ImageNet-normalised 224 px images (its pretrained weights do)?"""
    return (
        architecture in TORCHVISION_IMAGENET
        or architecture.startswith(TIMM_PREFIX)
        or bool(pretrained)
    )


def build_model(
    architecture: str,
    num_classes: int,
    options: dict | None = None,
    logit_positions: list[int] | None = None,
) -> nn.Module:
    """Build an architecture with its options, wrapped to take [0, 1] images.

    With `logit_positions` the network keeps ImageNet's 1000 outputs and answers with those
    positions only (a pretrained model on a subset of ImageNet's classes)."""
    options = dict(options or {})
    pretrained = options.pop("pretrained", False)
    outputs = IMAGENET_CLASSES if logit_positions is not None else num_classes
    if architecture.startswith(TIMM_PREFIX):
        net = timm_model(architecture.removeprefix(TIMM_PREFIX), outputs)
    elif architecture in ARCHITECTURES:
        net = ARCHITECTURES[architecture](num_classes=outputs, **options)
    else:
        raise ValueError(
            f"unknown architecture '{architecture}'; allowed: {', '.join(sorted(ARCHITECTURES))}"
            f" or {TIMM_PREFIX}<name>"
        )
    imagenet = is_imagenet_architecture(architecture, pretrained)
    mean, std = (IMAGENET_MEAN, IMAGENET_STD) if imagenet else (DIGITS_MEAN, DIGITS_STD)
    model = Normalized(net, mean, std)
    return model if logit_positions is None else SelectedLogits(model, logit_positions)


def parameter_count(model: nn.Module) -> int:
    """Trainable parameters, recorded with every result (seed 000, Figs. 10-11)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def feature_stages(model: nn.Module) -> list[nn.Module]:
    """The modules whose outputs are the network's successive feature maps, shallow to deep.

    Seed 001's detector reads these maps; forward hooks on them capture the maps without
    changing the network. `model` is what build_model returns.
    """
    from torchvision.models import VGG, ResNet, ShuffleNetV2

    net = model.model if isinstance(model, SelectedLogits) else model
    net = net.net if isinstance(net, Normalized) else net
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
    if hasattr(net, "feature_info") and not isinstance(net, nn.Sequential):  # other timm models
        return [net.get_submodule(info["module"]) for info in net.feature_info]
    if hasattr(net, "features"):  # torchvision's ConvNeXt, EfficientNet, MobileNet-V3
        return list(net.features)[1:]
    return [m for m in net if isinstance(m, nn.Sequential)]  # small_cnn's blocks
