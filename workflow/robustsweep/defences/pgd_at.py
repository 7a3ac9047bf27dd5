"""`pgd_at`: Madry et al.'s adversarial training, cross-entropy on PGD examples only."""

from __future__ import annotations

from robustsweep.defences.online_attack import AdversarialCrossEntropy, budget, pgd_attack

PARAMETERS = frozenset({"eps", "alpha", "steps"})


def stores_needed(spec) -> list[str]:
    return []


def build(params: dict, context) -> AdversarialCrossEntropy:
    return AdversarialCrossEntropy(pgd_attack(*budget(params)))
