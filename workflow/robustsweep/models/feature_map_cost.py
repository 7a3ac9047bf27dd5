"""What a network's feature maps cost: xu2024's trade-off between larger maps before pooling
and memory, measured rather than estimated.

Forward hooks on every leaf module of the network record, for one image, the size of each
output (the activations a training step keeps for its backward pass, counted once per module
as PyTorch's memory profilers list them; an in-place ReLU counts like any other) and the shape
of what the global pooling layer receives. A Vision Transformer has no such layer: its map is
the token grid its patch embedding makes (timm's PatchEmbed, whose conv `proj` outputs it), and
the 4-D tensors inside its attention are not maps. The parameter count is
networks.parameter_count.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

GLOBAL_POOLS = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)


@dataclass(frozen=True)
class FeatureMapCost:
    """Activation elements of one image (all leaf-module outputs) and the side of the map
    before global pooling ("8x8"; a ViT's token grid; else the last 4-D output's)."""

    activation_elements: int
    feature_map: str


def feature_map_cost(model: nn.Module, image_size: int, device: torch.device) -> FeatureMapCost:
    elements, maps, pooled, grids = [0], [], [], []
    patch_convs = {
        id(m.proj) for m in model.modules() if hasattr(m, "grid_size") and hasattr(m, "proj")
    }

    def record(module, inputs, output) -> None:
        if isinstance(output, torch.Tensor):
            elements[0] += output[0].numel()
            if output.dim() == 4:
                maps.append(tuple(output.shape[-2:]))
                if id(module) in patch_convs:
                    grids.append(maps[-1])
        if isinstance(module, GLOBAL_POOLS) and not pooled:
            pooled.append(tuple(inputs[0].shape[-2:]))

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [leaf.register_forward_hook(record) for leaf in leaves]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, image_size, image_size, device=device))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    side = (pooled or grids[-1:] or maps[-1:] or [(0, 0)])[0]
    return FeatureMapCost(elements[0], f"{side[0]}x{side[1]}")
