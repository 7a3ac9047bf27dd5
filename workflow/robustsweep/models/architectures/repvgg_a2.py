"""`repvgg_a2`: timm's RepVGG-A2 (ho2024); for 32x32 inputs its stem's two branches get
stride 1."""

from __future__ import annotations

from robustsweep.models.architectures import (
    ARCHITECTURES,
    Architecture,
    check_pretrained_stem,
    pretrained_parameter,
)
from robustsweep.registry import flag


@ARCHITECTURES.register("repvgg_a2")
class RepVGGA2(Architecture):
    small_input_stem: bool = flag(True, doc="stride-1 stem for 32 px")
    pretrained: bool | str = pretrained_parameter()
    weights_library = "timm"

    def check(self, key, study):
        check_pretrained_stem(key, self)

    def network(self, num_classes: int):
        import timm

        net = timm.create_model("repvgg_a2", pretrained=False, num_classes=num_classes)
        if self.small_input_stem:
            net.stem.conv_kxk.conv.stride = (1, 1)
            net.stem.conv_1x1.conv.stride = (1, 1)
        return net

    def feature_stages(self, net):
        return list(net.stages)
