"""`timm:<name>`: any timm model by name (Wightman 2019, pytorch-image-models), built without
weights (pretrained: true fetches timm's default ImageNet-1k weights through
models/pretrained_weights.py)."""

from __future__ import annotations

from robustsweep.models.architectures import ARCHITECTURES, Architecture
from robustsweep.registry import flag

TIMM_PREFIX = "timm:"


@ARCHITECTURES.register("timm:")
class TimmModel(Architecture):
    pretrained: bool = flag(False, doc="start from timm's default ImageNet-1k weights")
    imagenet_inputs = True
    weights_library = "timm"

    @property
    def timm_name(self) -> str:
        return self.name.removeprefix(TIMM_PREFIX)

    def network(self, num_classes: int):
        import timm

        return timm.create_model(self.timm_name, pretrained=False, num_classes=num_classes)

    def feature_stages(self, net):
        if hasattr(net, "stages"):
            return list(net.stages)
        return [net.get_submodule(info["module"]) for info in net.feature_info]
