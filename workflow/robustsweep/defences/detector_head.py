"""`detector_head`: seed 001 (Tan et al. 2022), adversarial training with a detection head.

Training samples come from the offline store through seed 001's sampler (`ratio`, `attacks`,
`attack_bounds`, as in `offline_adversarial`). A frozen clean copy (the `standard` run of the
same model, N and draw) supplies the feature maps an adversarial-detection network
(adversarial_detector.py) learns to classify as clean or adversarial. The model being trained
starts from the clean copy's weights and minimises Eq. 1,

    alpha * CE(model(x), y) + beta * SmoothL1(D(features_model(x)), D(features_clean(x))),

where D(.) is the detector's class-token embedding (the paper's "output of a specific layer
of the auxiliary network"): the detector, frozen inside this term, compares how the two
networks' features look to it. The detector itself is trained with its own cross-entropy on
the clean copy's features. Its weights and the clean copy are saved with the model's weights,
so evaluation reports detector accuracy on every test set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from robustsweep.defences import offline_adversarial
from robustsweep.defences.interface import Defence

if TYPE_CHECKING:
    import torch
    from torch import nn

PARAMETERS = frozenset({"ratio", "attacks", "attack_bounds", "alpha", "beta", "levels", "layers"})
NEEDS_CLEAN_COPY = True
DEFAULTS = {"alpha": 1.0, "beta": 1.0, "levels": "full", "layers": 4, "dim": 64}


def stores_needed(spec) -> list[str]:
    return list(spec["attacks"])


def check(name: str, spec) -> None:
    offline_adversarial.check(name, spec)


class DetectorHead(Defence):
    def __init__(self, sampler, clean_copy: nn.Module, params: dict, image_size: int):
        self.sampler = sampler
        self.clean_copy = clean_copy
        self.settings = {**DEFAULTS, **{k: params[k] for k in DEFAULTS if k in params}}
        self.image_size = image_size
        self.detector = None

    def prepare(self, model: nn.Module) -> None:
        """Start from the clean copy's weights; tap both networks' stages; build the detector."""
        from robustsweep.adversarial_detector import AdversarialDetector, FeatureTaps, map_shapes

        model.load_state_dict(self.clean_copy.state_dict())
        levels = self.settings["levels"]
        self.model_taps = FeatureTaps(model, levels)
        self.clean_taps = FeatureTaps(self.clean_copy, levels)
        self.shapes = map_shapes(self.clean_copy, self.clean_taps, self.image_size)
        device = next(model.parameters()).device
        self.detector = AdversarialDetector(
            self.shapes, self.settings["dim"], self.settings["layers"]
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


def build(params: dict, context) -> DetectorHead:
    from robustsweep.trained_models import load_model

    if context.clean_copy is None:
        raise ValueError("detector_head needs the weights of the run's clean (standard) copy")
    clean_copy, _ = load_model(context.clean_copy, str(context.device))
    for parameter in clean_copy.parameters():
        parameter.requires_grad_(False)
    sampler = offline_adversarial.build(params, context)
    return DetectorHead(sampler, clean_copy, params, context.image_size)
