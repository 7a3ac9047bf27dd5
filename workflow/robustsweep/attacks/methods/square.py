"""`square`: the Square attack (Andriushchenko et al. 2020, arXiv:1912.00049;
torchattacks.Square), black-box."""

from __future__ import annotations

from robustsweep.attacks.methods import ATTACK_METHODS, AttackMethod, check_budget
from robustsweep.registry import choice, integer, number


@ATTACK_METHODS.register("square")
class Square(AttackMethod):
    eps: float = number(8 / 255, exclusive_minimum=0, doc="budget in the chosen norm")
    norm: str = choice("Linf", ["Linf", "L2"], doc="threat model")
    n_queries: int = integer(5000, minimum=1, doc="model queries per image")
    p_init: float = number(0.8, exclusive_minimum=0, maximum=1, doc="initial square size")
    seed: int = integer(0, minimum=0, doc="seed of the random squares")
    black_box = True  # queries scores only

    def budget(self):
        return self.norm, self.eps

    def check(self, key, study):
        check_budget(key, self.norm, self.eps, study)

    def build(self, model, n_classes):
        import torchattacks

        return torchattacks.Square(
            model,
            eps=self.eps,
            norm=self.norm,
            n_queries=self.n_queries,
            p_init=self.p_init,
            seed=self.seed,
        )
