"""`bim`: the basic iterative method (Kurakin et al. 2016, arXiv:1607.02533; torchattacks.BIM)."""

from __future__ import annotations

from robustsweep.attacks.methods import ATTACK_METHODS, AttackMethod
from robustsweep.registry import integer, number


@ATTACK_METHODS.register("bim")
class BIM(AttackMethod):
    eps: float = number(8 / 255, exclusive_minimum=0, maximum=1, doc="L-inf budget")
    alpha: float = number(2 / 255, exclusive_minimum=0, maximum=1, doc="step size")
    steps: int = integer(10, minimum=1, doc="iterations")

    def budget(self):
        return "Linf", self.eps

    def build(self, model, n_classes):
        import torchattacks

        return torchattacks.BIM(model, eps=self.eps, alpha=self.alpha, steps=self.steps)
