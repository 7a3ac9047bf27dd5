"""`fgsm_rs`: fast adversarial training (Wong et al. 2020), FGSM from a uniform random start.

torchattacks' FFGSM is exactly that attack; the step defaults to 1.25 eps as in the paper.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from robustsweep.defences.online_attack import DEFAULT_EPS, OnlineAttack

if TYPE_CHECKING:
    import torch
    from torch import nn

PARAMETERS = frozenset({"eps", "alpha"})


def stores_needed(spec) -> list[str]:
    return []


class FastAdversarialTraining:
    def __init__(self, attack: OnlineAttack):
        self.attack = attack

    def loss(
        self,
        model: nn.Module,
        images: torch.Tensor,
        targets: torch.Tensor,
        positions: torch.Tensor,
        generator: torch.Generator,
    ):
        from torch.nn.functional import cross_entropy

        logits = model(self.attack(model, images, targets))
        return cross_entropy(logits, targets), logits


def build(params: dict, context) -> FastAdversarialTraining:
    eps = params.get("eps", DEFAULT_EPS)
    alpha = params.get("alpha", 1.25 * eps)

    def make(model):
        import torchattacks

        return torchattacks.FFGSM(model, eps=eps, alpha=alpha)

    return FastAdversarialTraining(OnlineAttack(make))
