"""`deepfool`: L2 DeepFool (Moosavi-Dezfooli et al. 2016, arXiv:1511.04599), batched
(attacks/batched_deepfool.py).

foolbox's semantics: the overshoot scales the accumulated perturbation (not each step, as
torchattacks does), so the attack ends past the decision boundary, not on it.
"""

from __future__ import annotations

from robustsweep.attacks.methods import ATTACK_METHODS, AttackMethod
from robustsweep.registry import integer, number


@ATTACK_METHODS.register("deepfool")
class DeepFool(AttackMethod):
    steps: int = integer(50, minimum=1, doc="iterations")
    overshoot: float = number(
        0.02, minimum=0, doc="the accumulated perturbation is scaled by 1 + overshoot"
    )
    candidates: int | None = integer(
        None,
        minimum=2,
        nullable=True,
        doc="classes considered: the top-k by the clean logits (null: all; 10 keeps a "
        "1000-class model cheap, foolbox's default)",
    )
    minimal_norm = True

    def build(self, model, n_classes):
        from robustsweep.attacks.batched_deepfool import BatchedDeepFool

        return BatchedDeepFool(
            model, steps=self.steps, overshoot=self.overshoot, candidates=self.candidates
        )
