"""`alp`: adversarial logit pairing (Kannan, Kurakin and Goodfellow 2018).

Train on clean and PGD images together and pull their logits towards each other:
    ce_weight * (CE(f(x), y) + CE(f(x'), y)) + pairing_weight * mean((f(x) - f(x'))^2)
with x' from PGD on the current model. The defaults are the paper's: its cross-entropy is
the mean over the concatenated clean and adversarial batch (ce_weight 0.5) and its pairing
weight 0.5 (tensorflow/models research/adversarial_logit_pairing, `train_lp_weight`).
xu2024 ran MTandHJ/rcm's ALP, which sums the two cross-entropies (ce_weight 1) with the same
0.5 pairing weight and passes clean and adversarial images through the network separately,
as here (BatchNorm sees each batch on its own). The paper gives no CIFAR-10 recipe; the
attack defaults are Madry et al.'s PGD-10 at 8/255, as in rcm. No maintained library ships
the loss, so its one line is written out here. Note that ALP's robustness has been shown to
be overestimated under weak attacks (Engstrom et al. 2018): evaluate it with AutoAttack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from robustsweep.registry import number
from robustsweep.training.defences import DEFENCES
from robustsweep.training.defences.interface import DefenceTrainer
from robustsweep.training.defences.online_attack import OnlineAttack, PGDBudget, pgd_attack

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

    def build(self, context) -> AlpTrainer:
        attack = pgd_attack(self.eps, self.alpha, self.steps)
        return AlpTrainer(attack, self.ce_weight, self.pairing_weight)


def alp_loss(
    clean_logits: torch.Tensor,
    adversarial_logits: torch.Tensor,
    targets: torch.Tensor,
    ce_weight: float,
    pairing_weight: float,
) -> torch.Tensor:
    """ce_weight * (CE clean + CE adversarial) + pairing_weight * MSE of the logits (mean
    over images and classes)."""
    from torch.nn.functional import cross_entropy, mse_loss

    ce = cross_entropy(clean_logits, targets) + cross_entropy(adversarial_logits, targets)
    return ce_weight * ce + pairing_weight * mse_loss(adversarial_logits, clean_logits)


class AlpTrainer(DefenceTrainer):
    def __init__(self, attack: OnlineAttack, ce_weight: float, pairing_weight: float):
        self.attack = attack
        self.ce_weight, self.pairing_weight = ce_weight, pairing_weight

    def loss(
        self,
        model: nn.Module,
        images: torch.Tensor,
        targets: torch.Tensor,
        positions: torch.Tensor,
        generator: torch.Generator,
    ):
        adversarial = self.attack(model, images, targets)
        clean_logits = model(images)
        adversarial_logits = model(adversarial)
        loss = alp_loss(
            clean_logits, adversarial_logits, targets, self.ce_weight, self.pairing_weight
        )
        return loss, adversarial_logits
