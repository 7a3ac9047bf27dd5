"""`vgg19_bn`: torchvision's VGG19-BN (ho2024). For 32x32 inputs the five max-pools leave a
1x1 map, so the 7x7 average pool and the 4096-wide classifier (100 M parameters of copies)
become a 512-wide classifier, the CIFAR variant ho2024 compares against."""

from __future__ import annotations

from robustsweep.models.architectures import (
    ARCHITECTURES,
    Architecture,
    check_pretrained_stem,
    pretrained_parameter,
)
from robustsweep.registry import flag


@ARCHITECTURES.register("vgg19_bn")
class VGG19BN(Architecture):
    small_input_stem: bool = flag(True, doc="512-wide classifier after a 1x1 pool for 32 px")
    pretrained: bool | str = pretrained_parameter()

    def check(self, key, study):
        check_pretrained_stem(key, self)

    def network(self, num_classes: int):
        from torch import nn
        from torchvision import models

        net = models.vgg19_bn(weights=None, num_classes=num_classes)
        if self.small_input_stem:
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

    def feature_stages(self, net):
        from torch import nn

        return [m for m in net.features if isinstance(m, nn.MaxPool2d)]
