"""`resnet18`, `resnet34`, `resnet50`: torchvision's ResNets with xu2024's feature-map options.

small_input_stem: for 32x32 inputs the stem becomes a 3x3 stride-1 conv without max-pooling
(the usual CIFAR adaptation), so the last stage still sees a 4x4 map.
upsample: bilinear input upsampling by this factor (larger maps in every stage).
last_stride: stride of the last stage's downsampling; 1 doubles the map before pooling.
pooling: global "avg" (where larger maps help, per Xu et al.) or "max" (where they do not).
None of these changes the parameter count.
"""

from __future__ import annotations

from robustsweep.models.architectures import (
    ARCHITECTURES,
    Architecture,
    check_pretrained_stem,
    pretrained_parameter,
)
from robustsweep.registry import choice, flag, integer


@ARCHITECTURES.register("resnet18", "resnet34", "resnet50")
class ResNet(Architecture):
    small_input_stem: bool = flag(True, doc="3x3 stride-1 stem without max-pool for 32 px")
    upsample: int = integer(1, minimum=1, doc="input upsampling factor (xu2024)")
    last_stride: int = choice(2, [1, 2], doc="last stage's stride; 1 doubles its map (xu2024)")
    pooling: str = choice("avg", ["avg", "max"], doc="global pooling (xu2024)")
    pretrained: bool | str = pretrained_parameter()

    def check(self, key, study):
        check_pretrained_stem(key, self)

    def network(self, num_classes: int):
        from torch import nn
        from torchvision import models

        net = getattr(models, self.name)(weights=None, num_classes=num_classes)
        if self.small_input_stem:
            net.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
            net.maxpool = nn.Identity()
        first = net.layer4[0]
        strided = first.conv2 if isinstance(first, models.resnet.Bottleneck) else first.conv1
        strided.stride = (self.last_stride, self.last_stride)
        first.downsample[0].stride = (self.last_stride, self.last_stride)
        if self.pooling == "max":
            net.avgpool = nn.AdaptiveMaxPool2d(1)
        if self.upsample > 1:
            scale = nn.Upsample(scale_factor=self.upsample, mode="bilinear", align_corners=False)
            net = nn.Sequential(scale, net)
        return net

    def feature_stages(self, net):
        from torch import nn

        if isinstance(net, nn.Sequential):  # behind the input upsampling
            net = net[1]
        return [net.layer1, net.layer2, net.layer3, net.layer4]
