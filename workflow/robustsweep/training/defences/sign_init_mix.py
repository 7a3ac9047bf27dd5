"""`sign_init_mix`: xue2024 (Xue et al. 2024), sign-processed random starts and example mixing.

Only the abstract of xue2024 is available, so this is our reading of its two ingredients:
1. the random initial perturbation is sign-processed, eps * sign(U(-1, 1)): every pixel
   starts at a corner of the eps-ball, which points the first gradient step at the boundary;
   then `steps` signed-gradient steps of size `alpha`, projected back to the ball;
2. the adversarial examples are mixed pairwise (mixup with lambda ~ Beta(mix, mix), the loss
   mixed with the same weights), which gives the model more distinct adversarial features;
   `mix: 0` turns mixing off, for the ablation.
The feature modulation the abstract mentions is not specified there and is left out.
No maintained library ships a sign-processed start (torchattacks' starts are uniform), so
the few lines of the attack are written out here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from robustsweep.registry import integer, number
from robustsweep.training.defences import DEFENCES, DefenceMethod
from robustsweep.training.defences.interface import DefenceTrainer
from robustsweep.training.defences.online_attack import alpha_parameter, eps_parameter

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

    def __post_init__(self):
        if self.alpha is None:
            object.__setattr__(self, "alpha", 1.25 * self.eps)

    def build(self, context) -> SignInitMixTrainer:
        return SignInitMixTrainer(self.eps, self.alpha, self.steps, self.mix)


def sign_init_attack(
    model: nn.Module,
    images: torch.Tensor,
    targets: torch.Tensor,
    eps: float,
    alpha: float,
    steps: int,
) -> torch.Tensor:
    """Signed-gradient ascent on the cross-entropy from a sign-processed random start.

    The start draws from torch's global generator (reseeded every epoch by training). The
    model is put in eval mode while attacked, as torchattacks does, so BatchNorm statistics
    only see the batches trained on.
    """
    import torch
    from torch.nn.functional import cross_entropy

    was_training = model.training
    model.eval()
    start = eps * torch.empty_like(images).uniform_(-1, 1).sign()
    adversarial = (images + start).clamp(0, 1)
    for _ in range(steps):
        adversarial.requires_grad_(True)
        loss = cross_entropy(model(adversarial), targets)
        (grad,) = torch.autograd.grad(loss, adversarial)
        stepped = adversarial.detach() + alpha * grad.sign()
        adversarial = (images + (stepped - images).clamp(-eps, eps)).clamp(0, 1)
    model.train(was_training)
    return adversarial.detach()


class SignInitMixTrainer(DefenceTrainer):
    def __init__(self, eps: float, alpha: float, steps: int, mix: float):
        self.eps, self.alpha, self.steps, self.mix = eps, alpha, steps, mix

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
            unwrapped(model), images, targets, self.eps, self.alpha, self.steps
        )
        n = len(images)
        if self.mix == 0:  # mixing off: plain training on the sign-init examples (ablation)
            lam = torch.ones(n, device=images.device)
        else:
            concentration = torch.full((n,), self.mix)
            lam = torch.distributions.Beta(concentration, concentration).sample()
            lam = lam.to(images.device)
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
