"""Shared part of the online adversarial-training defences: attack the model being trained.

The torchattacks attack is built on the first batch (the trainer is built before the model
reaches it) and reused. torchattacks puts the model in eval mode while it attacks and restores
training mode afterwards, so BatchNorm statistics only see the batches trained on. Random
starts draw from torch's global generator, which training reseeds every epoch. Under data
parallelism the attack runs on the module inside DDP (data_parallel.unwrapped), each rank on
its share, so no collective sits inside an attack.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from robustsweep.registry import integer, number
from robustsweep.training.defences import DefenceMethod
from robustsweep.training.defences.interface import DefenceTrainer

if TYPE_CHECKING:
    import torch
    from torch import nn

# Madry et al.'s CIFAR-10 budget; configs override it per defence.
DEFAULT_EPS = 8 / 255
DEFAULT_ALPHA = 2 / 255
DEFAULT_STEPS = 10


def eps_parameter(default: float = DEFAULT_EPS):
    return number(default, exclusive_minimum=0, maximum=1, doc="L-inf budget of the attack")


def alpha_parameter(default: float | None = DEFAULT_ALPHA):
    if default is None:  # derived from eps after construction (fast AT's 1.25 eps)
        return number(
            None,
            exclusive_minimum=0,
            maximum=1,
            nullable=True,
            doc="attack step size (default 1.25 eps)",
        )
    return number(default, exclusive_minimum=0, maximum=1, doc="attack step size")


@dataclass(frozen=True, kw_only=True)
class PGDBudget(DefenceMethod):
    """Defences that train against L-inf PGD: Madry et al.'s CIFAR-10 budget by default."""

    eps: float = eps_parameter()
    alpha: float = alpha_parameter()
    steps: int = integer(DEFAULT_STEPS, minimum=1, doc="attack iterations")


class OnlineAttack:
    """Adversarial versions of a batch against the current weights of `model`."""

    def __init__(self, make: Callable[[nn.Module], object]):
        self._make = make
        self._attack = None
        self._model = None

    def __call__(self, model: nn.Module, images: torch.Tensor, targets: torch.Tensor):
        from robustsweep.training.data_parallel import unwrapped

        model = unwrapped(model)  # not through DDP: its forward passes are collectives
        if self._model is not model:
            self._attack, self._model = self._make(model), model
        return self._attack(images, targets).detach()


def pgd_attack(eps: float, alpha: float, steps: int) -> OnlineAttack:
    """L-infinity PGD with a uniform random start (Madry et al.)."""

    def make(model):
        import torchattacks

        return torchattacks.PGD(model, eps=eps, alpha=alpha, steps=steps, random_start=True)

    return OnlineAttack(make)


class AdversarialCrossEntropy(DefenceTrainer):
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
