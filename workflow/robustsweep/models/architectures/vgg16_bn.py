"""`vgg16_bn`: VGG16 with batch norm (xu2024's VGG16) with xu2024's feature-map options
(feature_maps.py). `strides` has one digit per max-pool; 1 removes that pool (the authors'
`--strides`), so `22222` is the usual network (a 1x1 map before pooling at 32 px) and
`11222`, the authors' VGG16 scheme, keeps a 4x4 map.

small_input_stem (default true, as for vgg19_bn): the CIFAR head of xu2024's code, global
pooling then 512-256-256 with dropout; false keeps torchvision's ImageNet head (7x7 average
pool, 4096-wide classifier), the network torchvision publishes as vgg16_bn. The features are
torchvision's either way.
"""

from __future__ import annotations

from robustsweep.models.architectures import (
    ARCHITECTURES,
    check_pretrained_stem,
    pretrained_parameter,
)
from robustsweep.models.architectures.feature_maps import FeatureMapOptions, strides_parameter
from robustsweep.registry import flag


@ARCHITECTURES.register("vgg16_bn")
class VGG16BN(FeatureMapOptions):
    STRIDE_SITES = 5
    DEFAULT_STRIDES = "22222"

    small_input_stem: bool = flag(True, doc="xu2024's 512-256-256 head after global pooling")
    strides: str = strides_parameter("22222", "max-pool (1 removes the pool)")
    pretrained: bool | str = pretrained_parameter()

    def check(self, key, study):
        check_pretrained_stem(key, self)
        super().check(key, study)

    def network(self, num_classes: int):
        from torch import nn
        from torchvision import models

        net = models.vgg16_bn(weights=None, num_classes=num_classes)
        pools = iter(self.stride_digits())
        kept = [m for m in net.features if not (isinstance(m, nn.MaxPool2d) and next(pools) == 1)]
        net.features = nn.Sequential(*kept)
        if self.small_input_stem:
            net.avgpool = self.global_pool()
            net.classifier = nn.Sequential(
                nn.Linear(512, 256),
                nn.ReLU(inplace=True),
                nn.Dropout(),
                nn.Linear(256, 256),
                nn.ReLU(inplace=True),
                nn.Dropout(),
                nn.Linear(256, num_classes),
            )
        return self.with_upsampling(net)

    def feature_stages(self, net):
        """The end of each of the five conv blocks: its pool, or its last ReLU without one."""
        return stages_by_block(self.behind_upsampling(net).features)


def stages_by_block(features) -> list:
    """The last module of each of VGG16's five blocks (2, 2, 3, 3, 3 convs)."""
    from torch import nn

    convs_per_block, stages, seen, block = (2, 2, 3, 3, 3), [], 0, 0
    modules = list(features)
    for position, module in enumerate(modules):
        if isinstance(module, nn.Conv2d):
            seen += 1
        if seen == convs_per_block[block] and isinstance(module, nn.ReLU):
            after = modules[position + 1] if position + 1 < len(modules) else None
            stages.append(after if isinstance(after, nn.MaxPool2d) else module)
            block, seen = block + 1, 0
            if block == len(convs_per_block):
                break
    return stages
