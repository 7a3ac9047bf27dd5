"""`cw`: the L2 attack of Carlini and Wagner 2017 (arXiv:1608.04644; torchattacks.CW), a
minimal-norm attack."""

from __future__ import annotations

from robustsweep.attacks.methods import ATTACK_METHODS, AttackMethod
from robustsweep.registry import integer, number


@ATTACK_METHODS.register("cw")
class CarliniWagner(AttackMethod):
    c: float = number(1.0, exclusive_minimum=0, doc="weight of the misclassification term")
    kappa: float = number(0.0, minimum=0, doc="confidence margin")
    steps: int = integer(50, minimum=1, doc="Adam steps")
    lr: float = number(0.01, exclusive_minimum=0, doc="Adam learning rate")
    minimal_norm = True

    def build(self, model, n_classes):
        import torchattacks

        return torchattacks.CW(model, c=self.c, kappa=self.kappa, steps=self.steps, lr=self.lr)
