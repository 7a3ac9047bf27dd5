"""`pgd_at`: Madry et al.'s adversarial training, cross-entropy on PGD examples only."""

from __future__ import annotations

from robustsweep.defences.online_attack import (
    DEFAULT_ALPHA,
    DEFAULT_EPS,
    DEFAULT_STEPS,
    AdversarialCrossEntropy,
    pgd_attack,
)

PARAMETERS = frozenset({"eps", "alpha", "steps"})


def stores_needed(spec) -> list[str]:
    return []


def build(params: dict, context) -> AdversarialCrossEntropy:
    return AdversarialCrossEntropy(
        pgd_attack(
            params.get("eps", DEFAULT_EPS),
            params.get("alpha", DEFAULT_ALPHA),
            params.get("steps", DEFAULT_STEPS),
        )
    )
