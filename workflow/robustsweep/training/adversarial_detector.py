"""tan2022's adversarial-detection network (Tan et al., Sec. 3.1, Fig. 2).

It reads the feature maps of a network's stages, not pixels: each map is embedded by a
convolution (deeper, smaller maps by a transposed convolution) onto one token grid, the tokens
of all levels are stitched into one sequence behind a class token, and a shallow Transformer
encoder decides clean vs adversarial. `levels="low"` embeds only the shallowest map, `"full"`
every stage (the paper's "Low"/"Full" input types, Table 3).

The grid follows the shallowest fused map, which the paper puts at the centre of the fusion:
its side divided by `grid_stride`. The authors' code (dowdyboy/simple_structure_for_robust_model,
models/glaring_net.py) fuses a CIFAR ResNet-34's maps on a 16 x 16 grid: layer1's 32 x 32 map
by a 3 x 3 stride-2 convolution, layer2's 16 x 16 by a 1 x 1 convolution, layer3 and layer4 by
transposed convolutions; `grid_stride: 2` is that grid, and the embeddings here have those
shapes (a (2s - 1)-wide stride-s convolution for a map s times the grid, a stride-s transposed
one for a map s times smaller). torch's TransformerEncoder does the attention; only the
embedding is written here.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from robustsweep.models.networks import feature_stages

HEADS = 4


class FeatureTaps:
    """Forward hooks that keep the latest output of each chosen stage of a model."""

    def __init__(self, model: nn.Module, levels: str):
        stages = feature_stages(model)
        self.stages = stages[:1] if levels == "low" else stages
        self.maps: list[torch.Tensor | None] = [None] * len(self.stages)
        for i, stage in enumerate(self.stages):
            stage.register_forward_hook(self._keeper(i))

    def _keeper(self, i: int):
        def keep(_module, _inputs, output) -> None:
            self.maps[i] = output

        return keep

    def take(self) -> list[torch.Tensor]:
        """The maps of the last forward pass; cleared so no stale map is ever reused."""
        maps, self.maps = self.maps, [None] * len(self.stages)
        if any(m is None for m in maps):
            raise RuntimeError("feature taps hold no maps: run the model forward first")
        return maps


def map_shapes(model: nn.Module, taps: FeatureTaps, image_size: int) -> list[tuple[int, int]]:
    """(channels, side) of each map `taps` (on `model`) captures for one image of this size."""
    device = next(model.parameters()).device
    with torch.no_grad():
        model(torch.zeros(1, 3, image_size, image_size, device=device))
    return [(m.shape[1], m.shape[2]) for m in taps.take()]


def token_grid(shapes: list[tuple[int, int]], grid_stride: int) -> int:
    """Tokens per side of every level's embedded map: the shallowest fused map's side (the
    first of `shapes`, (channels, side) from shallow to deep) divided by `grid_stride`."""
    return max(1, shapes[0][1] // grid_stride)


def _embedding(channels: int, side: int, dim: int, grid: int) -> nn.Module:
    """A map `side` wide onto the `grid`: a strided convolution when it is larger (3 x 3 at
    stride 2, the authors' layer1 embedding; 1 x 1 when it is the grid's size), a transposed
    convolution when smaller; pooled to the grid where the sides do not divide."""
    if side >= grid:
        step = side // grid
        layer = nn.Conv2d(channels, dim, kernel_size=2 * step - 1, stride=step, padding=step - 1)
    else:
        step = math.ceil(grid / side)
        layer = nn.ConvTranspose2d(channels, dim, kernel_size=step, stride=step)
    return nn.Sequential(layer, nn.AdaptiveAvgPool2d(grid))


class AdversarialDetector(nn.Module):
    """Feature maps -> (embedding of the class token, clean/adversarial logits)."""

    def __init__(
        self, shapes: list[tuple[int, int]], dim: int = 64, layers: int = 4, grid: int = 4
    ):
        super().__init__()
        self.embed = nn.ModuleList(_embedding(c, s, dim, grid) for c, s in shapes)
        tokens = len(shapes) * grid * grid
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.position = nn.Parameter(torch.randn(1, tokens + 1, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(
            dim, HEADS, 2 * dim, dropout=0.0, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 2)

    def forward(self, maps: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        pairs = zip(self.embed, maps, strict=True)
        tokens = [embed(m).flatten(2).transpose(1, 2) for embed, m in pairs]
        sequence = torch.cat([self.cls.expand(len(maps[0]), -1, -1), *tokens], dim=1)
        encoded = self.encoder(sequence + self.position)
        embedding = self.norm(encoded[:, 0])
        return embedding, self.head(embedding)


def detector_scores(
    clean_copy: nn.Module, taps: FeatureTaps, detector: AdversarialDetector, images: torch.Tensor
) -> torch.Tensor:
    """Probability that each image is adversarial, from the clean copy's feature maps."""
    with torch.no_grad():
        clean_copy(images)
        _, logits = detector(taps.take())
    return logits.softmax(1)[:, 1]
