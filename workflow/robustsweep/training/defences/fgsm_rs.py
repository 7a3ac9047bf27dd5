"""`fgsm_rs`: fast adversarial training (Wong et al. 2020), FGSM from a uniform random start.

torchattacks' FFGSM is exactly that attack; the step defaults to 1.25 eps as in the paper.
Crafted as locuslab/fast_adversarial's CIFAR10/train_fgsm.py crafts: the model in train mode
(BatchNorm on the batch's own statistics), the start uniform in the eps-ball clamped to
[0, 1]. That script draws its start channel by channel (its eps differs per channel after
normalisation); here in pixel space, one draw of the whole batch.
"""

from __future__ import annotations

from robustsweep.training.defences import DEFENCES, DefenceMethod
from robustsweep.training.defences.online_attack import (
    AdversarialCrossEntropy,
    OnlineAttack,
    alpha_parameter,
    craft_mode_parameter,
    eps_parameter,
)


@DEFENCES.register("fgsm_rs")
class FastAdversarialTraining(DefenceMethod):
    data_parallel = True  # verified: tests/test_data_parallel.py

    eps: float = eps_parameter()
    alpha: float | None = alpha_parameter(None)
    craft_mode: str = craft_mode_parameter("train")

    def __post_init__(self):
        if self.alpha is None:
            object.__setattr__(self, "alpha", 1.25 * self.eps)

    def build(self, context) -> AdversarialCrossEntropy:
        eps, alpha = self.eps, self.alpha

        def make(model):
            import torchattacks

            return torchattacks.FFGSM(model, eps=eps, alpha=alpha)

        return AdversarialCrossEntropy(OnlineAttack(make, self.craft_mode))
