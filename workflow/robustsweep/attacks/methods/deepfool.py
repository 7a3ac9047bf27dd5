"""`deepfool`: Moosavi-Dezfooli et al.'s DeepFool, batched (attacks/batched_deepfool.py)."""

from __future__ import annotations

from robustsweep.attacks.methods import ATTACK_METHODS, AttackMethod
from robustsweep.registry import integer, number


@ATTACK_METHODS.register("deepfool")
class DeepFool(AttackMethod):
    steps: int = integer(50, minimum=1, doc="iterations")
    overshoot: float = number(0.02, minimum=0, doc="extra step past the linearised boundary")
    minimal_norm = True

    def build(self, model, n_classes):
        from robustsweep.attacks.batched_deepfool import BatchedDeepFool

        return BatchedDeepFool(model, steps=self.steps, overshoot=self.overshoot)
