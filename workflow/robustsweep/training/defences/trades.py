"""`trades`: Zhang et al. 2019. CE on clean images + beta * KL(clean || adversarial).

Crafted and budgeted as the released code (yaodongyu/TRADES, trades.py and
train_trades_cifar10.py): the model in eval mode; the examples start at x + 0.001 N(0, 1), not
clamped to [0, 1], then signed-gradient steps on KL(f(x) || f(x')) (summed over the batch),
projected to the eps-ball and clamped; eps 0.031 and step 0.007 (the script's numbers, not
8/255 and 2/255), 10 steps, beta 6. torchattacks' TPGD clamps the start, so the attack is
written out (online_attack.gaussian_start_attack). The released loss passes the clean batch
through the model twice in train mode (the same logits); once here, so BatchNorm's running
statistics see it once per step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from robustsweep.registry import number
from robustsweep.training.defences import DEFENCES
from robustsweep.training.defences.interface import DefenceTrainer
from robustsweep.training.defences.online_attack import (
    PGDBudget,
    alpha_parameter,
    craft_mode_parameter,
    crafting,
    eps_parameter,
    gaussian_start_attack,
)

if TYPE_CHECKING:
    import torch
    from torch import nn

# yaodongyu/TRADES train_trades_cifar10.py (and YisenWang/MART's and FAT's scripts): 0.031 is
# 7.9/255, 1.2 % below 8/255
RELEASED_EPS = 0.031
RELEASED_ALPHA = 0.007


@DEFENCES.register("trades")
class Trades(PGDBudget):
    data_parallel = True  # verified: tests/test_data_parallel.py

    eps: float = eps_parameter(RELEASED_EPS)
    alpha: float = alpha_parameter(RELEASED_ALPHA)
    beta: float = number(6.0, minimum=0, doc="weight of the robustness (KL) term")
    craft_mode: str = craft_mode_parameter("eval")

    def build(self, context) -> TradesTrainer:
        return TradesTrainer(
            TradesAttack(self.eps, self.alpha, self.steps, self.craft_mode), self.beta
        )


class TradesAttack:
    """The examples that maximise the KL term, from TRADES's Gaussian start (also AWP's
    TRADES base)."""

    def __init__(self, eps: float, alpha: float, steps: int, craft_mode: str):
        self.eps, self.alpha, self.steps, self.craft_mode = eps, alpha, steps, craft_mode

    def __call__(self, model: nn.Module, images: torch.Tensor, targets: torch.Tensor):
        import torch
        from torch.nn.functional import kl_div, log_softmax, softmax

        from robustsweep.training.data_parallel import unwrapped

        model = unwrapped(model)  # not through DDP: its forward passes are collectives
        with crafting(model, self.craft_mode):
            with torch.no_grad():
                clean = softmax(model(images), dim=1)

            def kl(examples):
                return kl_div(log_softmax(model(examples), dim=1), clean, reduction="sum")

            return gaussian_start_attack(model, images, kl, self.eps, self.alpha, self.steps)


class TradesTrainer(DefenceTrainer):
    def __init__(self, attack: TradesAttack, beta: float):
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
