"""`gn`: Gaussian noise (torchattacks.GN), the noise baseline of tan2022's store."""

from __future__ import annotations

from robustsweep.attacks.methods import ATTACK_METHODS, AttackMethod
from robustsweep.registry import number


@ATTACK_METHODS.register("gn")
class GaussianNoise(AttackMethod):
    std: float = number(0.1, exclusive_minimum=0, maximum=1, doc="noise standard deviation")
    black_box = True  # noise reads no gradient
    baseline = True  # not meant to fool: reported, not held to attacks.min_success

    def build(self, model, n_classes):
        import torchattacks

        return torchattacks.GN(model, std=self.std)
