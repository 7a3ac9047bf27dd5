"""`standard`: plain empirical risk minimisation on clean images."""

from __future__ import annotations

from typing import TYPE_CHECKING

from robustsweep.defences.interface import Defence

if TYPE_CHECKING:
    import torch
    from torch import nn

PARAMETERS: frozenset[str] = frozenset()


def stores_needed(spec) -> list[str]:
    return []


class Standard(Defence):
    autocast_safe = True  # no attack inside the loss

    def loss(
        self,
        model: nn.Module,
        images: torch.Tensor,
        targets: torch.Tensor,
        positions: torch.Tensor,
        generator: torch.Generator,
    ):
        from torch.nn.functional import cross_entropy

        logits = model(images)
        return cross_entropy(logits, targets), logits


def build(params: dict, context) -> Standard:
    return Standard()
