"""`sign_init_mix`: xue2024 (Xue et al. 2024), sign-processed random starts and example mixing.

Only the abstract of xue2024 is available, so this is our reading of its two ingredients:
1. the random initial perturbation is sign-processed, eps * sign(U(-1, 1)): every pixel
   starts at a corner of the eps-ball, which points the first gradient step at the boundary;
   then `steps` signed-gradient steps of size `alpha`, projected back to the ball;
2. the adversarial examples are mixed pairwise (mixup with lambda ~ Beta(mix, mix), the loss
   mixed with the same weights), which gives the model more distinct adversarial features;
   `mix: 0` turns mixing off, for the ablation.
The feature modulation the abstract mentions is not specified there and is left out.
The examples are crafted with the model in train mode by default (`craft_mode`), as the
released code of fast AT (locuslab/fast_adversarial), which this one-step method extends,
crafts them; its baselines `fgsm_rs` and `pgd_at` craft so too. xue2024 released no code.
No maintained library ships a sign-processed start (torchattacks' starts are uniform), so
the few lines of the attack are written out here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from robustsweep.registry import integer, number
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


@DEFENCES.register("sign_init_mix")
class SignInitMix(DefenceMethod):
    data_parallel = True  # verified: tests/test_data_parallel.py

    eps: float = eps_parameter()
    alpha: float | None = alpha_parameter(None)
    steps: int = integer(1, minimum=1, doc="signed-gradient steps from the sign-processed start")
    mix: float = number(
        1.0, minimum=0, doc="Beta(mix, mix) concentration of the mixing weight; 0 turns mixing off"
    )
    craft_mode: str = craft_mode_parameter("train")

    def __post_init__(self):
        if self.alpha is None:
            object.__setattr__(self, "alpha", 1.25 * self.eps)

    def build(self, context) -> SignInitMixTrainer:
        return SignInitMixTrainer(self.eps, self.alpha, self.steps, self.mix, self.craft_mode)


def sign_init_attack(
    model: nn.Module,
    images: torch.Tensor,
    targets: torch.Tensor,
    eps: float,
    alpha: float,
    steps: int,
    craft_mode: str = "eval",
) -> torch.Tensor:
    """Signed-gradient ascent on the cross-entropy from a sign-processed random start.

    The start draws from torch's global generator (reseeded every epoch by training). The
    model is attacked in `craft_mode` (eval: BatchNorm statistics only see the batches
    trained on; train: each step normalises with the batch's statistics and updates them).
    """
    with crafting(model, craft_mode):
        return _sign_init_attack(model, images, targets, eps, alpha, steps)


def _sign_init_attack(model, images, targets, eps, alpha, steps) -> torch.Tensor:
    import torch
    from torch.nn.functional import cross_entropy

    start = eps * torch.empty_like(images).uniform_(-1, 1).sign()
    adversarial = (images + start).clamp(0, 1)
    for _ in range(steps):
        adversarial.requires_grad_(True)
        loss = cross_entropy(model(adversarial), targets)
        (grad,) = torch.autograd.grad(loss, adversarial)
        stepped = adversarial.detach() + alpha * grad.sign()
        adversarial = (images + (stepped - images).clamp(-eps, eps)).clamp(0, 1)
    return adversarial.detach()


class SignInitMixTrainer(DefenceTrainer):
    def __init__(self, eps: float, alpha: float, steps: int, mix: float, craft_mode: str):
        self.eps, self.alpha, self.steps, self.mix = eps, alpha, steps, mix
        self.craft_mode = craft_mode

    def loss(
        self,
        model: nn.Module,
        images: torch.Tensor,
        targets: torch.Tensor,
        positions: torch.Tensor,
        generator: torch.Generator,
    ):
        import torch

        from robustsweep.training.data_parallel import unwrapped

        adversarial = sign_init_attack(
            unwrapped(model), images, targets, self.eps, self.alpha, self.steps, self.craft_mode
        )
        n = len(images)
        if self.mix == 0:  # mixing off: plain training on the sign-init examples (ablation)
            lam = torch.ones(n, device=images.device, dtype=images.dtype)
        else:
            concentration = torch.full((n,), self.mix)
            lam = torch.distributions.Beta(concentration, concentration).sample()
            lam = lam.to(images.device, images.dtype)  # (1 - lam) in the images' precision
        partner = torch.randperm(n, generator=generator).to(images.device)
        logits = model(mix_examples(adversarial, lam, partner))
        return mixed_cross_entropy(logits, targets, lam, partner), logits


def mix_examples(images: torch.Tensor, lam: torch.Tensor, partner: torch.Tensor) -> torch.Tensor:
    """lam_i * x_i + (1 - lam_i) * x_partner(i), per sample."""
    weight = lam.view(-1, *[1] * (images.dim() - 1))
    return weight * images + (1 - weight) * images[partner]


def mixed_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, lam: torch.Tensor, partner: torch.Tensor
) -> torch.Tensor:
    """The loss mixed with the images' weights: mean of lam CE(y_i) + (1 - lam) CE(y_partner)."""
    from torch.nn.functional import cross_entropy

    own = cross_entropy(logits, targets, reduction="none")
    other = cross_entropy(logits, targets[partner], reduction="none")
    return (lam * own + (1 - lam) * other).mean()
