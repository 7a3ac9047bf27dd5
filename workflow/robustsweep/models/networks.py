"""The torch modules around a registered architecture's network.

Normalisation lives inside the model (`Normalized`), so attacks, the store and training all
work in pixel space [0, 1], which is what torchattacks expects. A pretrained 1000-class model
evaluated on some of ImageNet's classes is wrapped in `SelectedLogits`, which keeps only those
classes' logits (zhu2025's slicing to ImageNet-A's 200).
"""

from __future__ import annotations

import torch
from torch import nn

from robustsweep.models.architectures import IMAGENET_CLASSES, Architecture, architecture_of


class Normalized(nn.Module):
    """Wrap a network so it normalises its input; the attack surface stays [0, 1]. Keeps
    the architecture object, which knows the network's feature stages."""

    def __init__(
        self,
        net: nn.Module,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        architecture: Architecture | None = None,
    ):
        super().__init__()
        self.net = net
        self.architecture = architecture
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net((images - self.mean) / self.std)


class SelectedLogits(nn.Module):
    """A 1000-class ImageNet model that answers for some of its classes only: the logits at
    `positions`, in that order (Lee et al.'s slicing of ImageNet logits to ImageNet-A's 200)."""

    def __init__(self, model: nn.Module, positions: list[int]):
        super().__init__()
        self.model = model
        self.register_buffer("positions", torch.tensor(positions, dtype=torch.long))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images).index_select(1, self.positions)


def build_model(
    architecture: Architecture | dict,
    num_classes: int,
    logit_positions: list[int] | None = None,
) -> nn.Module:
    """The architecture's network (an Architecture, or a validated model spec) wrapped to take
    [0, 1] images. With `logit_positions` the network keeps ImageNet's 1000 outputs and
    answers with those positions only (a pretrained model on a subset of ImageNet's classes)."""
    if isinstance(architecture, dict):
        architecture = architecture_of(architecture)
    outputs = IMAGENET_CLASSES if logit_positions is not None else num_classes
    mean, std = architecture.normalisation()
    model = Normalized(architecture.network(outputs), mean, std, architecture)
    return model if logit_positions is None else SelectedLogits(model, logit_positions)


def unwrap(model: nn.Module) -> Normalized:
    """The Normalized module of a model that build_model returned."""
    return model.model if isinstance(model, SelectedLogits) else model


def parameter_count(model: nn.Module) -> int:
    """Trainable parameters, recorded with every result (zhu2025, Figs. 10-11)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def feature_stages(model: nn.Module) -> list[nn.Module]:
    """The modules whose outputs are the network's successive feature maps, shallow to deep,
    as the model's architecture declares them. tan2022's detector reads these maps; forward
    hooks on them capture the maps without changing the network."""
    normalized = unwrap(model)
    return normalized.architecture.feature_stages(normalized.net)
