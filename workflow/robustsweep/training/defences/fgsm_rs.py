"""`fgsm_rs`: fast adversarial training (Wong et al. 2020), FGSM from a uniform random start.

torchattacks' FFGSM is exactly that attack; the step defaults to 1.25 eps as in the paper.
"""

from __future__ import annotations

from robustsweep.training.defences import DEFENCES, DefenceMethod
from robustsweep.training.defences.online_attack import (
    AdversarialCrossEntropy,
    OnlineAttack,
    alpha_parameter,
    eps_parameter,
)


@DEFENCES.register("fgsm_rs")
class FastAdversarialTraining(DefenceMethod):
    data_parallel = True  # verified: tests/test_data_parallel.py

    eps: float = eps_parameter()
    alpha: float | None = alpha_parameter(None)

    def __post_init__(self):
        if self.alpha is None:
            object.__setattr__(self, "alpha", 1.25 * self.eps)

    def build(self, context) -> AdversarialCrossEntropy:
        eps, alpha = self.eps, self.alpha

        def make(model):
            import torchattacks

            return torchattacks.FFGSM(model, eps=eps, alpha=alpha)

        return AdversarialCrossEntropy(OnlineAttack(make))
