"""`vit_cifar`: a small Vision Transformer for 32 px images, built with timm's
VisionTransformer to the geometry of the plain ViT in xu2024's code (MTandHJ/rcm,
models/vit.py `vitbase`, lucidrains' vit-pytorch): 4x4 patches, width 512, depth 6, 8 heads of
64, an MLP of 512, no qkv bias, dropout 0.1 on the embedded tokens and after each projection,
the mean over all tokens (class token included) then LayerNorm and a linear head. With these
options timm's network has exactly the authors' parameters (tests/test_architectures.py counts
them by hand); it differs only in initialisation and LayerNorm's eps, taken here from torch
(1e-5) as lucidrains' code does.

xu2024's modifiers on a ViT: its "feature map" is the token grid, (image_size x upsample /
patch_size) on a side, which the mean pools as a CNN's map is pooled.
- `upsample`, `upsample_mode`: the authors' way for their ViTs (`vitbase(scale_factor)`): the
  input is upsampled inside the model, so a factor 2 gives 4x the tokens, and the learnt
  position embedding covers the larger grid (its parameters grow with it).
- `patch_size`: the patch embedding's stride, the one downsampling site a ViT has; 2 instead
  of 4 also gives 4x the tokens, from the image itself.
- `pooling`: `avg` (the authors'), `max` over tokens, or `token` (the class token, timm's
  default and the original ViT's).
- `strides` does not apply (no strided stages) and is refused with that reason.
`image_size` must be the dataset's (the position embedding is sized for it); the check says so.
"""

from __future__ import annotations

from robustsweep.input_errors import ConfigError
from robustsweep.models.architectures import ARCHITECTURES
from robustsweep.models.architectures.feature_maps import FeatureMapOptions
from robustsweep.registry import choice, integer, mapping, number

TIMM_POOLS = {"avg": "avg", "max": "max", "token": "token"}


@ARCHITECTURES.register("vit_cifar")
class ViTCifar(FeatureMapOptions):
    image_size: int = integer(32, minimum=1, doc="the dataset's image side (dataset.image_size)")
    patch_size: int = integer(4, minimum=1, doc="patch side: the token grid's stride (rcm: 4)")
    embed_dim: int = integer(512, minimum=1, doc="token width (rcm's vitbase: 512)")
    depth: int = integer(6, minimum=1, doc="transformer blocks (rcm's vitbase: 6)")
    num_heads: int = integer(8, minimum=1, doc="attention heads (rcm's vitbase: 8 of 64)")
    mlp_dim: int = integer(512, minimum=1, doc="hidden width of each block's MLP (rcm: 512)")
    dropout: float = number(0.1, minimum=0, maximum=1, doc="token and projection dropout")
    pooling: str = choice(
        "avg", ["avg", "max", "token"], doc="mean or max over all tokens, or the class token"
    )
    strides: str | None = mapping(
        None,
        schema={"type": ["string", "integer", "null"]},
        doc="not for a ViT (no strided stages): set patch_size or upsample instead",
    )

    def __post_init__(self):
        """No stride digits to normalise (FeatureMapOptions's)."""

    @property
    def grid(self) -> int:
        """Tokens on a side: the ViT's feature map before pooling."""
        return self.image_size * self.upsample // self.patch_size

    def check(self, key, study):
        if self.strides is not None:
            raise ConfigError(
                f"config key '{key}.strides' does not apply to a ViT (it has no strided "
                "stages); enlarge its token grid with 'patch_size' or 'upsample' instead"
            )
        if self.image_size != study.image_size:
            raise ConfigError(
                f"config key '{key}.image_size' is {self.image_size}, but dataset.image_size "
                f"is {study.image_size}; set it to {study.image_size}"
            )
        if (self.image_size * self.upsample) % self.patch_size:
            raise ConfigError(
                f"config key '{key}.patch_size' is {self.patch_size}, which does not divide "
                f"the {self.image_size * self.upsample} px input; pick a divisor"
            )
        if self.embed_dim % self.num_heads:
            raise ConfigError(
                f"config key '{key}.num_heads' is {self.num_heads}, which does not divide "
                f"embed_dim {self.embed_dim}; pick a divisor"
            )

    def network(self, num_classes: int):
        from timm.models.vision_transformer import VisionTransformer
        from torch import nn

        net = VisionTransformer(
            img_size=self.image_size * self.upsample,
            patch_size=self.patch_size,
            num_classes=num_classes,
            global_pool=TIMM_POOLS[self.pooling],
            pool_include_prefix=True,  # rcm's mean runs over the class token too
            embed_dim=self.embed_dim,
            depth=self.depth,
            num_heads=self.num_heads,
            mlp_ratio=self.mlp_dim / self.embed_dim,
            qkv_bias=False,
            pos_drop_rate=self.dropout,
            proj_drop_rate=self.dropout,
            norm_layer=nn.LayerNorm,
        )
        return self.with_upsampling(net)

    def feature_stages(self, net):
        """The transformer blocks: token sequences (batch, tokens, width), not 4-D maps."""
        return list(self.behind_upsampling(net).blocks)
