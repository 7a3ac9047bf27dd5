"""`resnet18`, `resnet34`, `resnet50`: torchvision's ResNets with xu2024's feature-map options
(feature_maps.py: per-stage `strides`, input `upsample` nearest or bilinear, `pooling`).

small_input_stem: for 32x32 inputs the stem becomes a 3x3 stride-1 conv without max-pooling
(the usual CIFAR adaptation), so the last stage still sees a 4x4 map; false keeps torchvision's
ImageNet stem, a 7x7 stride-2 conv and a 3x3 stride-2 max-pool (ho2024's "Conv1" paragraph),
which leaves a 1x1 map at 32 px.
init_weights: pre-train then fine-tune (ho2024): the run starts from torchvision's ImageNet
weights, head re-initialised (models/pretrained_weights.py), and trains with the recipe.
strides: the stride of each stage's first block (3x3 conv, and its 1x1 shortcut), one digit
per stage as the authors' `--strides`; `1222` is torchvision's network, `1122` the authors'
larger map (8x8 at 32 px), `1221` what the former `last_stride: 1` gave.
"""

from __future__ import annotations

from robustsweep.models.architectures import (
    ARCHITECTURES,
    check_pretrained_stem,
    init_weights_parameter,
    pretrained_parameter,
)
from robustsweep.models.architectures.feature_maps import FeatureMapOptions, strides_parameter
from robustsweep.registry import flag


@ARCHITECTURES.register("resnet18", "resnet34", "resnet50")
class ResNet(FeatureMapOptions):
    small_input_stem: bool = flag(True, doc="3x3 stride-1 stem without max-pool for 32 px")
    strides: str = strides_parameter("1222", "stage")
    pretrained: bool | str = pretrained_parameter()
    init_weights: bool | str = init_weights_parameter()

    def check(self, key, study):
        check_pretrained_stem(key, self)
        super().check(key, study)

    def network(self, num_classes: int):
        from torch import nn
        from torchvision import models

        net = getattr(models, self.name)(weights=None, num_classes=num_classes)
        if self.small_input_stem:
            net.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
            net.maxpool = nn.Identity()
        stages = [net.layer1, net.layer2, net.layer3, net.layer4]
        for stage, stride in zip(stages, self.stride_digits(), strict=True):
            set_stage_stride(stage[0], stride)
        net.avgpool = self.global_pool()
        return self.with_upsampling(net)

    def feature_stages(self, net):
        net = self.behind_upsampling(net)
        return [net.layer1, net.layer2, net.layer3, net.layer4]


def set_stage_stride(block, stride: int) -> None:
    """The stride of a stage's first block: its strided 3x3 conv (conv2 in a bottleneck, as
    torchvision does) and its shortcut, which a strided block without one gets."""
    from torch import nn
    from torchvision.models.resnet import Bottleneck

    strided = block.conv2 if isinstance(block, Bottleneck) else block.conv1
    strided.stride = (stride, stride)
    if block.downsample is not None:
        block.downsample[0].stride = (stride, stride)
    elif stride != 1:
        channels = block.conv1.in_channels  # a block without a shortcut keeps its width
        block.downsample = nn.Sequential(
            nn.Conv2d(channels, channels, kernel_size=1, stride=stride, bias=False),
            nn.BatchNorm2d(channels),
        )
