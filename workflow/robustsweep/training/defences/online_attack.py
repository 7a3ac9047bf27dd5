"""Shared part of the online adversarial-training defences: attack the model being trained.

The torchattacks attack is built on the first batch (the trainer is built before the model
reaches it) and reused. Random starts draw from torch's global generator, which training
reseeds every epoch. Under data parallelism the attack runs on the module inside DDP
(data_parallel.unwrapped), each rank on its share, so none of DDP's collectives sits inside
an attack; crafted in train mode on GPUs, SyncBatchNorm's statistics are one, which the
fixed-step attacks meet alike on every rank (the global batch's statistics, as one process).

`craft_mode` is the mode the model is in while it is attacked, as its authors' released code
runs it. `train` (Madry et al.'s and Rice et al.'s PGD-AT, Wong et al.'s fast AT, AWP on AT):
BatchNorm normalises each attack step with the batch's own statistics, so the examples
maximise the very loss then trained on, and every step's forward pass also updates the running
statistics, as there. `eval` (TRADES, MART, FAT, ALP): BatchNorm uses its running statistics
and they see only the batches trained on (torchattacks' default).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from robustsweep.registry import choice, integer, number
from robustsweep.training.defences import DefenceMethod
from robustsweep.training.defences.interface import DefenceTrainer

if TYPE_CHECKING:
    import torch
    from torch import nn

# Madry et al.'s CIFAR-10 budget; configs override it per defence.
DEFAULT_EPS = 8 / 255
DEFAULT_ALPHA = 2 / 255
DEFAULT_STEPS = 10
CRAFT_MODES = ("train", "eval")


def craft_mode_parameter(default: str):
    return choice(
        default,
        CRAFT_MODES,
        doc="mode of the model while it is attacked: train (BatchNorm on the batch's own "
        "statistics) or eval (on its running statistics); the default is the authors' code's",
    )


@contextmanager
def crafting(model: nn.Module, mode: str):
    """The model in `mode` ('train' or 'eval') inside the block, its own mode restored after."""
    was_training = model.training
    model.train(mode == "train")
    try:
        yield model
    finally:
        model.train(was_training)


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

    def __init__(self, make: Callable[[nn.Module], object], craft_mode: str = "eval"):
        self._make = make
        self.craft_mode = craft_mode
        self._attack = None
        self._model = None

    def __call__(self, model: nn.Module, images: torch.Tensor, targets: torch.Tensor):
        from robustsweep.training.data_parallel import unwrapped

        model = unwrapped(model)  # not through DDP: its forward passes are collectives
        if self._model is not model:
            self._attack, self._model = self._make(model), model
            if self.craft_mode == "train" and hasattr(self._attack, "set_model_training_mode"):
                # torchattacks would switch the model to eval mode for the attack
                self._attack.set_model_training_mode(True, True, True)
        with crafting(model, self.craft_mode):
            return self._attack(images, targets).detach()


def pgd_attack(eps: float, alpha: float, steps: int, craft_mode: str = "eval") -> OnlineAttack:
    """L-infinity PGD with a uniform random start (Madry et al.)."""

    def make(model):
        import torchattacks

        return torchattacks.PGD(model, eps=eps, alpha=alpha, steps=steps, random_start=True)

    return OnlineAttack(make, craft_mode)


def gaussian_start_attack(
    model: nn.Module,
    images: torch.Tensor,
    objective: Callable[[torch.Tensor], torch.Tensor],
    eps: float,
    alpha: float,
    steps: int,
) -> torch.Tensor:
    """TRADES's and MART's L-inf PGD (yaodongyu/TRADES trades.py, YisenWang/MART mart.py):
    start at x + 0.001 N(0, 1), not clamped to [0, 1], then `steps` signed-gradient steps on
    `objective(examples)`, each projected to the eps-ball and clamped to [0, 1]. torchattacks'
    TPGD clamps the start, so the few lines are written out here. The model stays in the mode
    the caller put it in; the start draws from torch's global generator."""
    import torch

    adversarial = images.detach() + 0.001 * torch.randn_like(images)
    for _ in range(steps):
        adversarial.requires_grad_(True)
        (grad,) = torch.autograd.grad(objective(adversarial), adversarial)
        stepped = adversarial.detach() + alpha * grad.sign()
        adversarial = torch.min(torch.max(stepped, images - eps), images + eps).clamp(0, 1)
    return adversarial.detach()


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
