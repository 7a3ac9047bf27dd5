"""Shared part of the online adversarial-training defences: attack the model being trained.

The torchattacks attack is built on the first batch (the defence is built before the model
reaches it) and reused. torchattacks puts the model in eval mode while it attacks and restores
training mode afterwards, so BatchNorm statistics only see the batches trained on. Random
starts draw from torch's global generator, which training reseeds every epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from robustsweep.defences.interface import Defence

if TYPE_CHECKING:
    import torch
    from torch import nn

# Madry et al.'s CIFAR-10 budget; configs override it per defence.
DEFAULT_EPS = 8 / 255
DEFAULT_ALPHA = 2 / 255
DEFAULT_STEPS = 10


class OnlineAttack:
    """Adversarial versions of a batch against the current weights of `model`."""

    def __init__(self, make: Callable[[nn.Module], object]):
        self._make = make
        self._attack = None
        self._model = None

    def __call__(self, model: nn.Module, images: torch.Tensor, targets: torch.Tensor):
        if self._model is not model:
            self._attack, self._model = self._make(model), model
        return self._attack(images, targets).detach()


def budget(params: dict) -> tuple[float, float, int]:
    """(eps, alpha, steps) of a defence's config, with Madry et al.'s CIFAR-10 defaults."""
    return (
        params.get("eps", DEFAULT_EPS),
        params.get("alpha", DEFAULT_ALPHA),
        params.get("steps", DEFAULT_STEPS),
    )


def pgd_attack(eps: float, alpha: float, steps: int) -> OnlineAttack:
    """L-infinity PGD with a uniform random start (Madry et al.)."""

    def make(model):
        import torchattacks

        return torchattacks.PGD(model, eps=eps, alpha=alpha, steps=steps, random_start=True)

    return OnlineAttack(make)


class AdversarialCrossEntropy(Defence):
    """Cross-entropy on adversarial examples only (the loss of PGD-AT and fast FGSM-RS)."""

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
