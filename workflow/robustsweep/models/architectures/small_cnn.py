"""`small_cnn`: a four-conv CNN, fast on a CPU and strong enough on 32 px digits to make
attacks meaningful (the default study's surrogate, for attacks and mining; this project's own)."""

from __future__ import annotations

from robustsweep.models.architectures import ARCHITECTURES, Architecture
from robustsweep.registry import integer


@ARCHITECTURES.register("small_cnn")
class SmallCNN(Architecture):
    width: int = integer(32, minimum=1, doc="channels of the first block (the second has 2x)")

    def network(self, num_classes: int):
        from torch import nn

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

        width = self.width
        return nn.Sequential(
            block(3, width),
            block(width, 2 * width),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(2 * width, num_classes),
        )

    def feature_stages(self, net):
        from torch import nn

        return [m for m in net if isinstance(m, nn.Sequential)]
