"""`fat`: friendly adversarial training (Zhang et al. 2020, ICML), FAT for AT.

Train with cross-entropy on early-stopped PGD examples: each example's PGD stops once the
model misclassifies it and it has spent its budget of `tau` extra steps beyond that point, so
the model learns from the least adversarial misclassified example instead of the most. The
budget grows during training (dynamic tau): `tau` in the first epochs, one more from each
epoch of `tau_epochs` on. The defaults are the paper's CIFAR-10 ones (zjfheart/
Friendly-Adversarial-Training, FAT.py and earlystop.py): eps 0.031, step 0.007, K = 10,
uniform random start, omega 0.001 Gaussian noise on every step, tau 0, then 1 from epoch 50
and 2 from epoch 90 (counted from 0; 120 epochs there). xu2024's copy (MTandHJ/rcm, FAT/AT.py)
steps by 2/255 instead of 0.007 and draws omega's noise uniform: set `alpha` for the first.
No maintained library ships early-stopped PGD, so it is written out here, as one batched
loop with per-example masks (the reference code drops finished examples from the batch; the
examples it keeps and their updates are the same).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from robustsweep.registry import integer, mapping, number
from robustsweep.training.defences import DEFENCES, DefenceMethod
from robustsweep.training.defences.interface import DefenceTrainer
from robustsweep.training.defences.online_attack import (
    alpha_parameter,
    craft_mode_parameter,
    crafting,
    eps_parameter,
)

if TYPE_CHECKING:
    import torch
    from torch import nn


@DEFENCES.register("fat")
class FriendlyAdversarialTraining(DefenceMethod):
    data_parallel = True  # verified: tests/test_data_parallel.py

    eps: float = eps_parameter(0.031)
    alpha: float = alpha_parameter(0.007)
    steps: int = integer(10, minimum=1, doc="most PGD steps K")
    tau: int = integer(0, minimum=0, doc="steps an example goes on after it is misclassified")
    tau_epochs: list[int] = mapping(
        [50, 90],
        schema={"type": "array", "items": {"type": "integer", "minimum": 1}, "uniqueItems": True},
        doc="epochs (from 0) from which tau grows by one each (dynamic tau; [] keeps it fixed)",
    )
    omega: float = number(0.001, minimum=0, doc="std of the Gaussian noise added to every PGD step")
    craft_mode: str = craft_mode_parameter("eval")  # earlystop.py: model.eval()

    def build(self, context) -> FatTrainer:
        return FatTrainer(self)


def tau_at(epoch: int, tau: int, tau_epochs: list[int]) -> int:
    """The dynamic tau of an epoch (counted from 0): one more from each listed epoch on."""
    return tau + sum(epoch >= start for start in tau_epochs)


def early_stopped_pgd(
    model: nn.Module,
    images: torch.Tensor,
    targets: torch.Tensor,
    eps: float,
    alpha: float,
    steps: int,
    tau: int,
    omega: float,
    craft_mode: str = "eval",
) -> torch.Tensor:
    """Zhang et al.'s Algorithm 1: signed-gradient steps on the cross-entropy from a uniform
    start in the eps-ball, each example frozen at the first check where it is misclassified
    with no tau left (each misclassified check before that spends one). Random draws come
    from torch's global generator, which training reseeds every epoch; the model is attacked
    in `craft_mode` (the released code's eval: BatchNorm statistics see only the batches
    trained on)."""
    with crafting(model, craft_mode):
        # in train mode every pass through SyncBatchNorm (data parallelism on GPUs) is a
        # collective: all ranks make all `steps` passes, finished examples staying frozen
        stop_early = craft_mode == "eval"
        return _early_stopped_pgd(model, images, targets, eps, alpha, steps, tau, omega, stop_early)


def _early_stopped_pgd(
    model, images, targets, eps, alpha, steps, tau, omega, stop_early
) -> torch.Tensor:
    import torch
    from torch.nn.functional import cross_entropy

    adversarial = (images + torch.empty_like(images).uniform_(-eps, eps)).clamp(0, 1)
    budget = torch.full_like(targets, tau)
    active = torch.ones_like(targets, dtype=torch.bool)
    for _ in range(steps):
        adversarial.requires_grad_(True)
        logits = model(adversarial)
        wrong = logits.argmax(1) != targets
        active &= ~(wrong & (budget == 0))
        budget -= (wrong & active).long()
        if stop_early and not active.any():
            break
        (grad,) = torch.autograd.grad(cross_entropy(logits, targets), adversarial)
        step = alpha * grad.sign() + omega * torch.randn_like(images)
        moved = adversarial.detach() + step
        moved = (images + (moved - images).clamp(-eps, eps)).clamp(0, 1)
        mask = active.view(-1, *[1] * (images.dim() - 1))
        adversarial = torch.where(mask, moved, adversarial.detach())
    return adversarial.detach()


class FatTrainer(DefenceTrainer):
    def __init__(self, method: FriendlyAdversarialTraining):
        self.method = method
        self.tau = method.tau

    def start_epoch(self, epoch: int) -> None:
        self.tau = tau_at(epoch, self.method.tau, self.method.tau_epochs)

    def loss(
        self,
        model: nn.Module,
        images: torch.Tensor,
        targets: torch.Tensor,
        positions: torch.Tensor,
        generator: torch.Generator,
    ):
        from torch.nn.functional import cross_entropy

        from robustsweep.training.data_parallel import unwrapped

        m = self.method
        # not through DDP: the early stop makes the ranks' numbers of forward passes differ,
        # and each of DDP's is a collective (they would deadlock)
        adversarial = early_stopped_pgd(
            unwrapped(model),
            images,
            targets,
            m.eps,
            m.alpha,
            m.steps,
            self.tau,
            m.omega,
            m.craft_mode,
        )
        logits = model(adversarial)
        return cross_entropy(logits, targets), logits
