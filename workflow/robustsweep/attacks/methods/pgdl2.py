"""`pgdl2`: projected gradient descent in an L2 ball (Madry et al. 2018, arXiv:1706.06083;
torchattacks.PGDL2)."""

from __future__ import annotations

from robustsweep.attacks.methods import ATTACK_METHODS, AttackMethod, check_l2_budget
from robustsweep.registry import flag, integer, number


@ATTACK_METHODS.register("pgdl2")
class PGDL2(AttackMethod):
    eps: float = number(1.0, exclusive_minimum=0, doc="L2 budget (at most the image diameter)")
    alpha: float = number(0.2, exclusive_minimum=0, doc="step size (L2)")
    steps: int = integer(10, minimum=1, doc="iterations")
    random_start: bool = flag(True, doc="start from a random point of the eps-ball")

    def budget(self):
        return "L2", self.eps

    def check(self, key, study):
        check_l2_budget(key, self.eps, study)

    def build(self, model, n_classes):
        import torchattacks

        return torchattacks.PGDL2(
            model, eps=self.eps, alpha=self.alpha, steps=self.steps, random_start=self.random_start
        )
