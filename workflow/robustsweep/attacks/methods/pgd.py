"""`pgd`: L-inf projected gradient descent (Madry et al. 2018, arXiv:1706.06083;
torchattacks.PGD)."""

from __future__ import annotations

from robustsweep.attacks.methods import ATTACK_METHODS, AttackMethod
from robustsweep.registry import flag, integer, number


@ATTACK_METHODS.register("pgd")
class PGD(AttackMethod):
    eps: float = number(8 / 255, exclusive_minimum=0, maximum=1, doc="L-inf budget")
    alpha: float = number(2 / 255, exclusive_minimum=0, maximum=1, doc="step size")
    steps: int = integer(10, minimum=1, doc="iterations")
    random_start: bool = flag(True, doc="start from a uniform point of the eps-ball")

    def budget(self):
        return "Linf", self.eps

    def build(self, model, n_classes):
        import torchattacks

        return torchattacks.PGD(
            model, eps=self.eps, alpha=self.alpha, steps=self.steps, random_start=self.random_start
        )
