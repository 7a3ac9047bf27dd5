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
    data_parallel = True  # verified: tests/test_data_parallel.py

    beta: float = number(6.0, minimum=0, doc="weight of the robustness (KL) term")

    def build(self, context) -> TradesTrainer:
        return TradesTrainer(trades_attack(self.eps, self.alpha, self.steps), self.beta)


def trades_attack(eps: float, alpha: float, steps: int) -> OnlineAttack:
    """The examples that maximise the KL term (torchattacks' TPGD)."""

    def make(model):
        import torchattacks

        return torchattacks.TPGD(model, eps=eps, alpha=alpha, steps=steps)

    return OnlineAttack(make)


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
        adversarial = self.attack(model, images, targets)
        logits = model(images)
        return trades_loss(logits, model(adversarial), targets, self.beta), logits


def trades_loss(
    clean_logits: torch.Tensor, adversarial_logits: torch.Tensor, targets: torch.Tensor, beta: float
) -> torch.Tensor:
    """CE on the clean logits + beta * KL(clean || adversarial), batch mean (also AWP's
    TRADES base)."""
    from torch.nn.functional import cross_entropy, kl_div, log_softmax, softmax

    robust = kl_div(
        log_softmax(adversarial_logits, dim=1), softmax(clean_logits, dim=1), reduction="batchmean"
    )
    return cross_entropy(clean_logits, targets) + beta * robust
