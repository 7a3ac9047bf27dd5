"""`pgd_at`: adversarial training of Madry et al. 2018 (arXiv:1706.06083), cross-entropy on
PGD examples only.

Crafted as the released PyTorch code of Rice et al. (locuslab/robust_overfitting,
train_cifar.py, and csdongxian/AWP's AT_AWP/train_cifar10.py built on it) crafts: the model in
train mode for the whole epoch, a uniform start in the eps-ball clamped to [0, 1], PGD-10 of
step 2/255 at 8/255. Their scripts also pass the final examples once more (restart selection)
and the clean batch after each step (train accuracy) through the model in train mode; those
passes move only BatchNorm's running statistics and are not made here.
"""

from __future__ import annotations

from robustsweep.training.defences import DEFENCES
from robustsweep.training.defences.online_attack import (
    AdversarialCrossEntropy,
    PGDBudget,
    craft_mode_parameter,
    pgd_attack,
)


@DEFENCES.register("pgd_at")
class PGDAdversarialTraining(PGDBudget):
    data_parallel = True  # verified: tests/test_data_parallel.py

    craft_mode: str = craft_mode_parameter("train")

    def build(self, context) -> AdversarialCrossEntropy:
        return AdversarialCrossEntropy(
            pgd_attack(self.eps, self.alpha, self.steps, self.craft_mode)
        )
