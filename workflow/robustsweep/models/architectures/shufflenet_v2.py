"""`shufflenet_v2_x0_5` ... `shufflenet_v2_x2_0`: torchvision's ShuffleNetV2 at four widths; for
32x32 inputs a stride-1 stem without max-pooling, as for ResNet. ho2024's 93.81 % is the x2.0
width (chenyaofo/pytorch-cifar-models lists shufflenetv2_x2_0 at 93.81 %, x1.0 at 92.98 %)."""

from __future__ import annotations

from robustsweep.models.architectures import (
    ARCHITECTURES,
    Architecture,
    check_pretrained_stem,
    pretrained_parameter,
)
from robustsweep.registry import flag


@ARCHITECTURES.register(
    "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0"
)
class ShuffleNetV2(Architecture):
    small_input_stem: bool = flag(True, doc="stride-1 stem without max-pool for 32 px")
    pretrained: bool | str = pretrained_parameter()

    def check(self, key, study):
        check_pretrained_stem(key, self)

    def network(self, num_classes: int):
        from torch import nn
        from torchvision import models

        net = getattr(models, self.name)(weights=None, num_classes=num_classes)
        if self.small_input_stem:
            net.conv1[0].stride = (1, 1)
            net.maxpool = nn.Identity()
        return net

    def feature_stages(self, net):
        return [net.stage2, net.stage3, net.stage4]
