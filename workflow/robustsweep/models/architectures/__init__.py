"""Architectures: config `architecture` names to torch modules that take images in [0, 1].

One module per family, each registered in `ARCHITECTURES` with the options it takes (typed
parameters) and the stages whose outputs are its successive feature maps (tan2022's detector
and Grad-CAM read them). Besides the small-image families there are torchvision's ImageNet
classifiers by name (zhu2025's VGG16, ResNets, EfficientNets, MobileNet-V3s, ConvNeXts) and any
timm model as `timm:<name>`; these normalise with ImageNet's statistics, and with `pretrained`
they start from the library's ImageNet-1k weights (models/pretrained_weights.py).

This package stays torch-free (the Snakefile validates model options with it); the torch
modules around a network (normalisation, logit selection) are in models/networks.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from robustsweep.input_errors import ConfigError
from robustsweep.registry import Method, Registry, mapping

if TYPE_CHECKING:
    from torch import nn

# `training` beside a model's options is its own recipe override (study_config.py);
# `data_parallel` its own count of training processes (job_settings.training_processes)
ARCHITECTURES = Registry(
    "architecture",
    __name__,
    key="architecture",
    prefixes=("timm:",),
    beside=("training", "data_parallel"),
)

DIGITS_MEAN = (0.5, 0.5, 0.5)
DIGITS_STD = (0.5, 0.5, 0.5)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGENET_CLASSES = 1000

PRETRAINED_SCHEMA = {
    "anyOf": [{"type": "boolean"}, {"type": "string", "pattern": "^[A-Z0-9_]+$"}],
}


def pretrained_parameter() -> Any:
    return mapping(
        False,
        schema=PRETRAINED_SCHEMA,
        doc="start from the library's ImageNet-1k weights and evaluate as published (no "
        "training): true for the default weights, or a torchvision weights name "
        "(IMAGENET1K_V1); the dataset's classes must be ImageNet WordNet ids",
    )


def init_weights_parameter() -> Any:
    return mapping(
        False,
        schema=PRETRAINED_SCHEMA,
        doc="pre-train then fine-tune: start from the library's ImageNet-1k weights (true "
        "for the default, or a torchvision weights name such as IMAGENET1K_V1), the "
        "classifier head re-initialised for the study's classes, then train with the recipe",
    )


class Architecture(Method):
    """Options of one architecture; `network` builds the bare network (no normalisation)."""

    imagenet_inputs: ClassVar[bool] = False  # the family's own inputs are ImageNet-normalised
    weights_library: ClassVar[str] = "torchvision"  # who publishes pretrained weights

    @property
    def pretrained_weights(self) -> bool | str:
        return getattr(self, "pretrained", False)

    @property
    def initial_weights(self) -> bool | str:
        """ImageNet weights a trained run starts from (fine-tuning), False for none."""
        return getattr(self, "init_weights", False)

    def options(self) -> dict:
        """The options as the config spells them (what a model card records)."""
        return self.parameters()

    def network(self, num_classes: int) -> nn.Module:
        raise NotImplementedError

    def feature_stages(self, net: nn.Module) -> list[nn.Module]:
        """Modules whose outputs are the network's successive feature maps, shallow to deep."""
        raise NotImplementedError

    def normalisation(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        if self.imagenet_inputs or self.pretrained_weights or self.initial_weights:
            return IMAGENET_MEAN, IMAGENET_STD
        return DIGITS_MEAN, DIGITS_STD


def check_pretrained_stem(key: str, architecture: Architecture) -> None:
    """Published weights were trained with the ImageNet stem, not the 32 px adaptation;
    a model is either evaluated as published or fine-tuned from them, not both."""
    if architecture.pretrained_weights and architecture.initial_weights:
        raise ConfigError(
            f"config key '{key}' sets both pretrained (evaluate the published weights) and "
            "init_weights (fine-tune from them); keep one"
        )
    used = "pretrained" if architecture.pretrained_weights else "init_weights"
    published = architecture.pretrained_weights or architecture.initial_weights
    if published and getattr(architecture, "small_input_stem", False):
        raise ConfigError(
            f"config key '{key}' sets {used}, so it needs small_input_stem: false "
            "(the ImageNet stem its weights were trained with); add it"
        )


def architecture_of(spec: dict) -> Architecture:
    """The architecture object of a validated model spec ({architecture: name, options})."""
    return ARCHITECTURES.build(spec)
