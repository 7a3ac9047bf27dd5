"""`alp`: adversarial logit pairing (Kannan, Kurakin and Goodfellow 2018).

Train on clean and PGD images together and pull their logits towards each other:
    ce_weight * (CE(f(x), y) + CE(f(x'), y)) + pairing_weight * mean((f(x) - f(x'))^2)
with x' from PGD on the current model. The defaults are the paper's released code
(tensorflow/models research/adversarial_logit_pairing, train.py, as copies of it read): one
forward pass over the concatenated clean and adversarial batch, so BatchNorm normalises the
2B images together (`joint_batchnorm`); its cross-entropy is the mean over that batch
(ce_weight 0.5) with label smoothing 0.1; pairing weight 0.5 (`train_lp_weight`); the
examples from targeted PGD towards the least likely class of the clean image (`pgdll`,
`target: least_likely`), crafted with the model in eval mode. xu2024 ran MTandHJ/rcm's ALP
(Major/src/base.py): clean and adversarial images through the network in two passes, the two
cross-entropies summed (ce_weight 1) without smoothing, untargeted PGD on the true class, eval
mode: `joint_batchnorm: false, label_smoothing: 0, target: true_class, ce_weight: 1`. The paper
gives no CIFAR-10 budget; the attack defaults are Madry et al.'s PGD-10 at 8/255, as in rcm.
No maintained library ships the loss, so its one line is written out here. Note that ALP's
robustness has been shown to be overestimated under weak attacks (Engstrom et al. 2018):
evaluate it with AutoAttack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from robustsweep.registry import choice, flag, number
from robustsweep.training.defences import DEFENCES
from robustsweep.training.defences.interface import DefenceTrainer
from robustsweep.training.defences.online_attack import (
    OnlineAttack,
    PGDBudget,
    craft_mode_parameter,
)

if TYPE_CHECKING:
    import torch
    from torch import nn


@DEFENCES.register("alp")
class AdversarialLogitPairing(PGDBudget):
    data_parallel = True  # verified: tests/test_data_parallel.py

    ce_weight: float = number(
        0.5, exclusive_minimum=0, doc="weight of each cross-entropy (0.5: paper; 1: xu2024's code)"
    )
    pairing_weight: float = number(0.5, minimum=0, doc="weight of the logit-pairing MSE")
    joint_batchnorm: bool = flag(
        True,
        doc="one forward pass over concat(clean, adversarial), BatchNorm normalising both "
        "together (Kannan et al.'s code); false: two passes (rcm's)",
    )
    label_smoothing: float = number(
        0.1, minimum=0, exclusive_maximum=1, doc="label smoothing of both cross-entropies"
    )
    target: str = choice(
        "least_likely",
        ["least_likely", "true_class"],
        doc="least_likely: PGD towards the clean image's least likely class (Kannan et "
        "al.'s pgdll); true_class: untargeted PGD away from the true class (rcm's)",
    )
    craft_mode: str = craft_mode_parameter("eval")

    def build(self, context) -> AlpTrainer:
        return AlpTrainer(alp_attack(self), self)


def least_likely_classes(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """argmin of the model's logits per image (Kannan et al.'s least likely class)."""
    import torch

    with torch.no_grad():
        return model(images).argmin(dim=1)


def alp_attack(method: AdversarialLogitPairing) -> OnlineAttack:
    """L-inf PGD with a uniform start, untargeted or towards the least likely class."""

    def make(model):
        import torchattacks

        attack = torchattacks.PGD(
            model, eps=method.eps, alpha=method.alpha, steps=method.steps, random_start=True
        )
        if method.target == "least_likely":
            attack.set_mode_targeted_by_function(
                lambda images, labels: least_likely_classes(model, images), quiet=True
            )
        return attack

    return OnlineAttack(make, method.craft_mode)


def alp_loss(
    clean_logits: torch.Tensor,
    adversarial_logits: torch.Tensor,
    targets: torch.Tensor,
    ce_weight: float,
    pairing_weight: float,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """ce_weight * (CE clean + CE adversarial) + pairing_weight * MSE of the logits (mean
    over images and classes)."""
    from torch.nn.functional import cross_entropy, mse_loss

    ce = cross_entropy(clean_logits, targets, label_smoothing=label_smoothing) + cross_entropy(
        adversarial_logits, targets, label_smoothing=label_smoothing
    )
    return ce_weight * ce + pairing_weight * mse_loss(adversarial_logits, clean_logits)


class AlpTrainer(DefenceTrainer):
    def __init__(self, attack: OnlineAttack, method: AdversarialLogitPairing):
        self.attack = attack
        self.method = method

    def loss(
        self,
        model: nn.Module,
        images: torch.Tensor,
        targets: torch.Tensor,
        positions: torch.Tensor,
        generator: torch.Generator,
    ):
        import torch

        m = self.method
        adversarial = self.attack(model, images, targets)
        if m.joint_batchnorm:
            clean_logits, adversarial_logits = model(torch.cat([images, adversarial])).split(
                len(images)
            )
        else:
            clean_logits, adversarial_logits = model(images), model(adversarial)
        loss = alp_loss(
            clean_logits,
            adversarial_logits,
            targets,
            m.ce_weight,
            m.pairing_weight,
            m.label_smoothing,
        )
        return loss, adversarial_logits
