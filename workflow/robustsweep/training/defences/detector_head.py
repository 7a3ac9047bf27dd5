"""`detector_head`: tan2022 (Tan et al. 2022), adversarial training with a detection head.

Training samples come from the offline store through tan2022's sampler (`ratio`, `attacks`,
`attack_bounds`, as in `offline_adversarial`). A frozen clean copy (the `standard` run of the
same model, N and draw: the paper's "pre-trained net") supplies the feature maps an
adversarial-detection network (adversarial_detector.py) learns to classify as clean or
adversarial. The model being trained (the "target net") starts, with `init: fresh`, from the
run's own seeded initialisation, as in the authors' code (aisafe_train_fuse_model.py loads the
checkpoint into pre_net only; train_net is a new ResNet-34), or with `init: clean_copy` from the
clean copy's weights (a reading of Fig. 1's "fine-tuning"), and minimises Eq. 1,

    alpha * CE(model(x), y) + beta * SmoothL1(D(features_model(x)), D(features_clean(x))),

where D(.) is the detector's class-token embedding (the paper's "output of a specific layer
of the auxiliary network"): the detector, frozen inside this term, compares how the two
networks' features look to it. The detector itself is trained with its own cross-entropy on
the clean copy's features, fused on a grid that follows the shallowest fused map
(`grid_stride`, adversarial_detector.py). Its weights and the clean copy are saved with the
model's weights, so evaluation reports detector accuracy on every test set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from robustsweep.registry import choice, integer, number
from robustsweep.training.defences import DEFENCES
from robustsweep.training.defences.interface import DefenceTrainer
from robustsweep.training.defences.offline_adversarial import StoreSampling

if TYPE_CHECKING:
    import torch
    from torch import nn

EMBEDDING_DIM = 64


@DEFENCES.register("detector_head")
class DetectorHead(StoreSampling):
    alpha: float = number(1.0, minimum=0, doc="weight of the classification loss (Eq. 1)")
    beta: float = number(1.0, minimum=0, doc="weight of the SmoothL1 embedding loss (Eq. 1)")
    levels: str = choice(
        "full", ["low", "full"], doc="embed the shallowest feature map only (low) or all"
    )
    layers: int = integer(4, minimum=1, doc="self-attention layers of the detector")
    grid_stride: int = integer(
        2,
        minimum=1,
        doc="the detector fuses the maps on the shallowest fused map's grid subsampled by this "
        "stride (2: tan2022's 16 x 16 grid on a CIFAR ResNet-34's 32 x 32 layer1)",
    )
    init: str = choice(
        "fresh",
        ["fresh", "clean_copy"],
        doc="the trained model starts from its own seeded initialisation (fresh: the authors' "
        "code) or from the clean copy's weights (clean_copy)",
    )
    needs_clean_copy = True

    def build(self, context) -> DetectorHeadTrainer:
        from robustsweep.models.trained_models import load_model

        if context.clean_copy is None:
            raise ValueError("detector_head needs the weights of the run's clean (standard) copy")
        clean_copy, _ = load_model(context.clean_copy, str(context.device))
        for parameter in clean_copy.parameters():
            parameter.requires_grad_(False)
        settings = {
            "alpha": self.alpha,
            "beta": self.beta,
            "levels": self.levels,
            "layers": self.layers,
            "grid_stride": self.grid_stride,
            "init": self.init,
            "dim": EMBEDDING_DIM,
        }
        return DetectorHeadTrainer(self.sampler(context), clean_copy, settings, context.image_size)


class DetectorHeadTrainer(DefenceTrainer):
    def __init__(self, sampler, clean_copy: nn.Module, settings: dict, image_size: int):
        self.sampler = sampler
        self.clean_copy = clean_copy
        self.settings = settings
        self.image_size = image_size
        self.detector = None

    def prepare(self, model: nn.Module) -> None:
        """Start from the clean copy's weights if `init` says so (else keep the model's
        seeded initialisation); tap both networks' stages; build the detector."""
        from robustsweep.training.adversarial_detector import (
            AdversarialDetector,
            FeatureTaps,
            map_shapes,
            token_grid,
        )

        if self.settings["init"] == "clean_copy":
            model.load_state_dict(self.clean_copy.state_dict())
        levels = self.settings["levels"]
        self.model_taps = FeatureTaps(model, levels)
        self.clean_taps = FeatureTaps(self.clean_copy, levels)
        self.shapes = map_shapes(self.clean_copy, self.clean_taps, self.image_size)
        self.grid = token_grid(self.shapes, self.settings["grid_stride"])
        device = next(model.parameters()).device
        self.detector = AdversarialDetector(
            self.shapes, self.settings["dim"], self.settings["layers"], self.grid
        ).to(device)

    def parameters(self) -> list:
        return list(self.detector.parameters())

    def state_dict(self) -> dict:
        return self.detector.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.detector.load_state_dict(state)

    def saved_tensors(self):
        tensors = {f"detector.{k}": v for k, v in self.detector.state_dict().items()}
        tensors |= {f"clean_copy.{k}": v for k, v in self.clean_copy.state_dict().items()}
        card = {
            "levels": self.settings["levels"],
            "dim": self.settings["dim"],
            "layers": self.settings["layers"],
            "grid": self.grid,
            "shapes": [list(shape) for shape in self.shapes],
        }
        return tensors, card

    def loss(
        self,
        model: nn.Module,
        images: torch.Tensor,
        targets: torch.Tensor,
        positions: torch.Tensor,
        generator: torch.Generator,
    ):
        import torch
        from torch.func import functional_call
        from torch.nn.functional import cross_entropy, smooth_l1_loss

        mixed, swapped = self.sampler.mix(images, positions, generator)
        logits = model(mixed)
        model_maps = self.model_taps.take()
        with torch.no_grad():
            self.clean_copy(mixed)
        clean_embedding, detection = self.detector(self.clean_taps.take())
        frozen = {name: p.detach() for name, p in self.detector.named_parameters()}
        model_embedding, _ = functional_call(self.detector, frozen, (model_maps,))
        alpha, beta = self.settings["alpha"], self.settings["beta"]
        loss = (
            alpha * cross_entropy(logits, targets)
            + beta * smooth_l1_loss(model_embedding, clean_embedding.detach())
            + cross_entropy(detection, swapped.long())
        )
        return loss, logits
