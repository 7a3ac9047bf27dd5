"""`alexnet`: torchvision's AlexNet, adapted to 32 px as xu2024's authors did (MTandHJ/rcm,
models/alexnet.py), with xu2024's feature-map options (feature_maps.py).

The 32 px adaptation (small_input_stem, default true) keeps torchvision's five convolutions,
ReLUs and three max-pools in torchvision's order and widths, and changes what only suits
224 px: the 11x11 stride-4 first conv becomes 5x5 (padding 2), each 3x3 max-pool a 2x2 one,
the 6x6 average pool a global pool, and the 9216-4096-4096 classifier a 256-512-512 one (the
same dropout and ReLU order). Torchvision's own network turns a 32 px image into 1x1 after
its first two pools and fails at the third; the adapted one keeps 2x2 before pooling with the
default strides and 7x7 with the authors' `1122`. Convs 2-5 keep torchvision's parameters.
strides: one digit per downsampling site, as the authors' `--strides`: the first conv's
stride, then each max-pool's (`2222` is the usual network, `1122` the authors' AlexNet scheme).
small_input_stem false is torchvision's ImageNet network (pretrained: its ImageNet weights);
there a digit 1 halves that site's stride (the first conv's 4 becomes 2, a pool's 2 becomes 1).
"""

from __future__ import annotations

from robustsweep.input_errors import ConfigError
from robustsweep.models.architectures import (
    ARCHITECTURES,
    check_pretrained_stem,
    pretrained_parameter,
)
from robustsweep.models.architectures.feature_maps import FeatureMapOptions, strides_parameter
from robustsweep.registry import flag

SMALL_HEAD_WIDTH = 512  # the authors' classifier: 256 -> 512 -> 512 -> classes


@ARCHITECTURES.register("alexnet")
class AlexNet(FeatureMapOptions):
    small_input_stem: bool = flag(
        True, doc="xu2024's 32 px AlexNet: 5x5 first conv, 2x2 pools, 256-512-512 head"
    )
    strides: str = strides_parameter("2222", "site: the first conv, then each max-pool")
    pretrained: bool | str = pretrained_parameter()

    def check(self, key, study):
        check_pretrained_stem(key, self)
        if not self.small_input_stem and self.pooling != "avg":
            raise ConfigError(
                f"config key '{key}.pooling' is {self.pooling!r}, but torchvision's AlexNet "
                "(small_input_stem: false) pools to 6x6 for its 9216-wide classifier, not "
                "globally; remove 'pooling' or set small_input_stem: true"
            )
        super().check(key, study)

    def network(self, num_classes: int):
        from torch import nn
        from torchvision import models

        net = models.alexnet(weights=None, num_classes=num_classes)
        pools = [k for k, m in enumerate(net.features) if isinstance(m, nn.MaxPool2d)]
        first, *pool_strides = self.stride_digits()
        if self.small_input_stem:
            net.features[0] = nn.Conv2d(3, 64, kernel_size=5, stride=first, padding=2)
            for position, stride in zip(pools, pool_strides, strict=True):
                net.features[position] = nn.MaxPool2d(kernel_size=2, stride=stride)
            net.avgpool = self.global_pool()
            net.classifier = small_head(num_classes)
        else:  # torchvision's strides 4, 2, 2, 2; a digit 1 halves that site's
            net.features[0].stride = (2 * first, 2 * first)
            for position, stride in zip(pools, pool_strides, strict=True):
                net.features[position].stride = stride
        return self.with_upsampling(net)

    def feature_stages(self, net):
        """The output of each max-pool: the maps after each downsampling site but the first."""
        from torch import nn

        features = self.behind_upsampling(net).features
        return [m for m in features if isinstance(m, nn.MaxPool2d)]


def small_head(num_classes: int):
    """The authors' CIFAR classifier: torchvision's dropout/ReLU order at width 512."""
    from torch import nn

    return nn.Sequential(
        nn.Dropout(),
        nn.Linear(256, SMALL_HEAD_WIDTH),
        nn.ReLU(inplace=True),
        nn.Dropout(),
        nn.Linear(SMALL_HEAD_WIDTH, SMALL_HEAD_WIDTH),
        nn.ReLU(inplace=True),
        nn.Linear(SMALL_HEAD_WIDTH, num_classes),
    )
