"""`standard`: plain empirical risk minimisation on clean images, the baseline every study
compares with (this project's own, no paper)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from robustsweep.training.defences import DEFENCES, DefenceMethod
from robustsweep.training.defences.interface import DefenceTrainer

if TYPE_CHECKING:
    import torch
    from torch import nn


@DEFENCES.register("standard")
class Standard(DefenceMethod):
    data_parallel = True  # verified: tests/test_data_parallel.py

    def build(self, context) -> StandardTrainer:
        return StandardTrainer()


class StandardTrainer(DefenceTrainer):
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
