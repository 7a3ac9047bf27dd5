"""xu2024's feature-map modifiers, shared by the families that take them (the ResNets,
PreActResNet-18, VGG16-BN): larger maps before global pooling resist perturbations.

- `strides`: one digit per downsampling site, as the authors' `--strides` option (MTandHJ/rcm):
  for the ResNet families the stride of each of the four stages (`1222` is the usual CIFAR
  network with a 4x4 map before pooling, `1122` halves the stride of stage 2 and gives 8x8),
  for VGG16 one digit per max-pool, where 1 removes that pool (`22222` is the usual network,
  `11222` the authors' VGG16 scheme).
- `upsample`, `upsample_mode`: the input, already normalised, is upsampled by an integer
  factor inside the model (the authors' `--scale-factor` and `--mode`, default nearest), so
  attacks keep their budget in the 32 px pixel space.
- `pooling`: global average pooling (where larger maps help) or max pooling (where they do not).
The strides and the upsampling change the activation memory, never the parameter count (a
stage-1 stride of 2 in ResNet-18/34 adds the 1x1 shortcut that stage then needs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from robustsweep.input_errors import ConfigError
from robustsweep.models.architectures import Architecture
from robustsweep.registry import choice, integer, mapping

if TYPE_CHECKING:
    from torch import nn


def strides_parameter(default: str, sites: str) -> Any:
    """`strides`: a digit string (YAML may read an unquoted 1122 as a number: both work)."""
    return mapping(
        default,
        schema={"type": ["string", "integer"]},
        doc=f"one stride digit (1 or 2) per {sites}, e.g. '{default}' (xu2024's --strides)",
    )


@dataclass(frozen=True, kw_only=True)
class FeatureMapOptions(Architecture):
    """Architectures that take xu2024's modifiers; `strides` is declared by each family."""

    STRIDE_SITES: ClassVar[int] = 4  # digits of `strides`
    DEFAULT_STRIDES: ClassVar[str] = "1222"

    upsample: int = integer(1, minimum=1, doc="input upsampling factor (xu2024)")
    upsample_mode: str = choice(
        "nearest", ["nearest", "bilinear"], doc="input upsampling (xu2024's code: nearest)"
    )
    pooling: str = choice("avg", ["avg", "max"], doc="global pooling (xu2024)")

    def __post_init__(self):
        object.__setattr__(self, "strides", str(self.strides))

    def stride_digits(self) -> list[int]:
        return [int(digit) for digit in self.strides]

    def check(self, key, study):
        text = self.strides
        if len(text) != self.STRIDE_SITES or set(text) - {"1", "2"}:
            raise ConfigError(
                f"config key '{key}.strides' is {text!r}; it must be {self.STRIDE_SITES} "
                f"digits, each 1 or 2 (e.g. '{self.DEFAULT_STRIDES}')"
            )
        if self.pretrained_weights and text != self.DEFAULT_STRIDES:
            raise ConfigError(
                f"config key '{key}.strides' is {text!r}, but the model is pretrained with "
                f"strides '{self.DEFAULT_STRIDES}'; remove 'strides' or 'pretrained'"
            )

    def global_pool(self) -> nn.Module:
        from torch import nn

        return nn.AdaptiveMaxPool2d(1) if self.pooling == "max" else nn.AdaptiveAvgPool2d(1)

    def with_upsampling(self, net: nn.Module) -> nn.Module:
        """The network behind the input upsampling (itself when the factor is 1)."""
        from torch import nn

        if self.upsample == 1:
            return net
        corners = False if self.upsample_mode == "bilinear" else None
        scale = nn.Upsample(
            scale_factor=self.upsample, mode=self.upsample_mode, align_corners=corners
        )
        return nn.Sequential(scale, net)

    @staticmethod
    def behind_upsampling(net: nn.Module) -> nn.Module:
        """The network itself, whether or not an upsampling layer sits in front of it."""
        from torch import nn

        if isinstance(net, nn.Sequential) and isinstance(net[0], nn.Upsample):
            return net[1]
        return net
