"""torchvision's ImageNet classifiers by name, as published (224 px stem): zhu2025's VGG16,
ResNet-101/152, EfficientNet-B0-B3, MobileNet-V3 and ConvNeXt T/S/B/L. Pretrained weights are
not loaded here but by models/pretrained_weights.py, so a saved run rebuilds without them."""

from __future__ import annotations

from robustsweep.models.architectures import ARCHITECTURES, Architecture, pretrained_parameter


@ARCHITECTURES.register(
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
class TorchvisionImageNet(Architecture):
    pretrained: bool | str = pretrained_parameter()
    imagenet_inputs = True

    def network(self, num_classes: int):
        from torchvision import models

        return models.get_model(self.name, weights=None, num_classes=num_classes)

    def feature_stages(self, net):
        from torch import nn
        from torchvision.models import VGG, ResNet

        if isinstance(net, ResNet):
            return [net.layer1, net.layer2, net.layer3, net.layer4]
        if isinstance(net, VGG):
            return [m for m in net.features if isinstance(m, nn.MaxPool2d)]
        return list(net.features)[1:]  # ConvNeXt, EfficientNet, MobileNet-V3
