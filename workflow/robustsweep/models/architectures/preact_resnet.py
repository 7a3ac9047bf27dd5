"""`preact_resnet18`: He et al.'s pre-activation ResNet-18 (Identity Mappings in Deep Residual
Networks, 2016) for 32 px images, the network of xu2024's and AWP's CIFAR experiments, with
xu2024's feature-map options (feature_maps.py).

Each block is BN -> ReLU -> 3x3 conv (stride) -> BN -> ReLU -> 3x3 conv, added to the input, or,
where the shape changes, to a 1x1 conv (no BN) of the pre-activated input. The stem is a 3x3
stride-1 conv without BN or pooling; a final BN and ReLU precede the global pooling.
torchvision and timm have no pre-activation ResNet for small images, so it is written out here.
"""

from __future__ import annotations

from robustsweep.models.architectures import ARCHITECTURES
from robustsweep.models.architectures.feature_maps import FeatureMapOptions, strides_parameter

WIDTHS = (64, 128, 256, 512)
BLOCKS_PER_STAGE = 2


@ARCHITECTURES.register("preact_resnet18")
class PreActResNet18(FeatureMapOptions):
    strides: str = strides_parameter("1222", "stage")

    def network(self, num_classes: int):
        from torch import nn

        from robustsweep.models.preact_blocks import PreActBlock

        stages, channels = [], WIDTHS[0]
        for width, stride in zip(WIDTHS, self.stride_digits(), strict=True):
            blocks = []
            for k in range(BLOCKS_PER_STAGE):
                blocks.append(PreActBlock(channels, width, stride if k == 0 else 1))
                channels = width
            stages.append(nn.Sequential(*blocks))
        net = nn.Sequential()
        net.add_module("conv1", nn.Conv2d(3, WIDTHS[0], 3, padding=1, bias=False))
        for k, stage in enumerate(stages, start=1):
            net.add_module(f"layer{k}", stage)
        net.add_module("bn", nn.BatchNorm2d(channels))
        net.add_module("relu", nn.ReLU())
        net.add_module("pool", self.global_pool())
        net.add_module("flatten", nn.Flatten())
        net.add_module("fc", nn.Linear(channels, num_classes))
        return self.with_upsampling(net)

    def feature_stages(self, net):
        net = self.behind_upsampling(net)
        return [net.layer1, net.layer2, net.layer3, net.layer4]
