"""`trades`: Zhang et al. 2019. CE on clean images + beta * KL(clean || adversarial).

The adversarial examples maximise that KL term; torchattacks' TPGD is this attack (start at
0.001 * N(0, 1), then signed-gradient steps on the KL divergence).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from robustsweep.registry import number
from robustsweep.training.defences import DEFENCES
from robustsweep.training.defences.interface import DefenceTrainer
from robustsweep.training.defences.online_attack import OnlineAttack, PGDBudget

if TYPE_CHECKING:
    import torch
    from torch import nn


@DEFENCES.register("trades")
class Trades(PGDBudget):
    beta: float = number(6.0, minimum=0, doc="weight of the robustness (KL) term")

    def build(self, context) -> TradesTrainer:
        eps, alpha, steps = self.eps, self.alpha, self.steps

        def make(model):
            import torchattacks

            return torchattacks.TPGD(model, eps=eps, alpha=alpha, steps=steps)

        return TradesTrainer(OnlineAttack(make), self.beta)


class TradesTrainer(DefenceTrainer):
    def __init__(self, attack: OnlineAttack, beta: float):
        self.attack = attack
        self.beta = beta

    def loss(
        self,
        model: nn.Module,
        images: torch.Tensor,
        targets: torch.Tensor,
        positions: torch.Tensor,
        generator: torch.Generator,
    ):
        from torch.nn.functional import cross_entropy, kl_div, log_softmax, softmax

        adversarial = self.attack(model, images, targets)
        logits = model(images)
        robust = kl_div(
            log_softmax(model(adversarial), dim=1), softmax(logits, dim=1), reduction="batchmean"
        )
        return cross_entropy(logits, targets) + self.beta * robust, logits
