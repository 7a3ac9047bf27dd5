"""`pgd_at`: Madry et al.'s adversarial training, cross-entropy on PGD examples only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from robustsweep.defences.online_attack import (
    DEFAULT_ALPHA,
    DEFAULT_EPS,
    DEFAULT_STEPS,
    OnlineAttack,
    pgd_attack,
)

if TYPE_CHECKING:
    import torch
    from torch import nn

PARAMETERS = frozenset({"eps", "alpha", "steps"})


def stores_needed(spec) -> list[str]:
    return []


class PGDAdversarialTraining:
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


def build(params: dict, context) -> PGDAdversarialTraining:
    return PGDAdversarialTraining(
        pgd_attack(
            params.get("eps", DEFAULT_EPS),
            params.get("alpha", DEFAULT_ALPHA),
            params.get("steps", DEFAULT_STEPS),
        )
    )
