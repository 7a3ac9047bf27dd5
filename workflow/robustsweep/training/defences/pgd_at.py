"""`pgd_at`: Madry et al.'s adversarial training, cross-entropy on PGD examples only."""

from __future__ import annotations

from robustsweep.training.defences import DEFENCES
from robustsweep.training.defences.online_attack import (
    AdversarialCrossEntropy,
    PGDBudget,
    pgd_attack,
)


@DEFENCES.register("pgd_at")
class PGDAdversarialTraining(PGDBudget):
    data_parallel = True  # verified: tests/test_data_parallel.py

    def build(self, context) -> AdversarialCrossEntropy:
        return AdversarialCrossEntropy(pgd_attack(self.eps, self.alpha, self.steps))
