"""`trades`: Zhang et al. 2019. CE on clean images + beta * KL(clean || adversarial).

The adversarial examples maximise that KL term; torchattacks' TPGD is this attack (start at
0.001 * N(0, 1), then signed-gradient steps on the KL divergence).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from robustsweep.defences.interface import Defence
from robustsweep.defences.online_attack import OnlineAttack, budget

if TYPE_CHECKING:
    import torch
    from torch import nn

PARAMETERS = frozenset({"beta", "eps", "alpha", "steps"})


def stores_needed(spec) -> list[str]:
    return []


class Trades(Defence):
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


def build(params: dict, context) -> Trades:
    eps, alpha, steps = budget(params)

    def make(model):
        import torchattacks

        return torchattacks.TPGD(model, eps=eps, alpha=alpha, steps=steps)

    return Trades(OnlineAttack(make), float(params.get("beta", 6.0)))
