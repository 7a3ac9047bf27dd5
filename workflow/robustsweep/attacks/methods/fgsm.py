"""`fgsm`: the fast gradient sign method (Goodfellow et al. 2015, arXiv:1412.6572;
torchattacks.FGSM)."""

from __future__ import annotations

from robustsweep.attacks.methods import ATTACK_METHODS, AttackMethod
from robustsweep.registry import number


@ATTACK_METHODS.register("fgsm")
class FGSM(AttackMethod):
    eps: float = number(8 / 255, exclusive_minimum=0, maximum=1, doc="L-inf budget")

    def budget(self):
        return "Linf", self.eps

    def build(self, model, n_classes):
        import torchattacks

        return torchattacks.FGSM(model, eps=self.eps)
