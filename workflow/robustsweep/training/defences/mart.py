"""`mart`: Wang et al. 2020, misclassification-aware adversarial training.

No maintained library ships MART's loss, so it is written out here from the paper (Eq. 8):
boosted CE on PGD examples (CE plus a margin term against the most likely wrong class) plus
beta * KL(clean || adversarial) weighted by how unsure the model is of the true class.
Crafted and budgeted as the released code (YisenWang/MART, mart.py and train_wideresnet.py):
the model in eval mode; the examples start at x + 0.001 N(0, 1), not clamped to [0, 1], then
signed-gradient steps on the cross-entropy, projected to the eps-ball and clamped; eps 0.031,
step 0.007, 10 steps, beta 6 (its train_resnet.py: beta 5). The clean batch goes through the
model before the adversarial one, as there (BatchNorm's running statistics see that order).
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
from robustsweep.training.defences.trades import RELEASED_ALPHA, RELEASED_EPS

if TYPE_CHECKING:
    import torch
    from torch import nn


@DEFENCES.register("mart")
class Mart(PGDBudget):
    data_parallel = True  # verified: tests/test_data_parallel.py

    eps: float = eps_parameter(RELEASED_EPS)
    alpha: float = alpha_parameter(RELEASED_ALPHA)
    beta: float = number(6.0, minimum=0, doc="weight of the misclassification-aware KL term")
    craft_mode: str = craft_mode_parameter("eval")

    def build(self, context) -> MartTrainer:
        return MartTrainer(MartAttack(self.eps, self.alpha, self.steps, self.craft_mode), self.beta)


class MartAttack:
    """Cross-entropy PGD from MART's Gaussian start."""

    def __init__(self, eps: float, alpha: float, steps: int, craft_mode: str):
        self.eps, self.alpha, self.steps, self.craft_mode = eps, alpha, steps, craft_mode

    def __call__(self, model: nn.Module, images: torch.Tensor, targets: torch.Tensor):
        from torch.nn.functional import cross_entropy

        from robustsweep.training.data_parallel import unwrapped

        model = unwrapped(model)  # not through DDP: its forward passes are collectives
        with crafting(model, self.craft_mode):
            return gaussian_start_attack(
                model,
                images,
                lambda examples: cross_entropy(model(examples), targets),
                self.eps,
                self.alpha,
                self.steps,
            )


def mart_loss(
    clean_logits: torch.Tensor, adversarial_logits: torch.Tensor, targets: torch.Tensor, beta: float
) -> torch.Tensor:
    import torch
    from torch.nn.functional import cross_entropy, kl_div, nll_loss, softmax

    adversarial_probs = softmax(adversarial_logits, dim=1)
    top_two = adversarial_probs.argsort(dim=1)[:, -2:]
    wrong = torch.where(top_two[:, -1] == targets, top_two[:, -2], top_two[:, -1])
    boosted_ce = cross_entropy(adversarial_logits, targets) + nll_loss(
        torch.log(1.0001 - adversarial_probs + 1e-12), wrong
    )
    clean_probs = softmax(clean_logits, dim=1)
    true_probs = clean_probs.gather(1, targets[:, None]).squeeze(1)
    kl = kl_div(torch.log(adversarial_probs + 1e-12), clean_probs, reduction="none").sum(1)
    return boosted_ce + beta * (kl * (1.0000001 - true_probs)).mean()


class MartTrainer(DefenceTrainer):
    def __init__(self, attack: MartAttack, beta: float):
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
        clean_logits = model(images)
        adversarial_logits = model(adversarial)
        return mart_loss(clean_logits, adversarial_logits, targets, self.beta), clean_logits
