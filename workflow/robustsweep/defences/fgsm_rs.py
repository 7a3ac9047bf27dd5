"""`fgsm_rs`: fast adversarial training (Wong et al. 2020), FGSM from a uniform random start.

torchattacks' FFGSM is exactly that attack; the step defaults to 1.25 eps as in the paper.
"""

from __future__ import annotations

from robustsweep.defences.online_attack import DEFAULT_EPS, AdversarialCrossEntropy, OnlineAttack

PARAMETERS = frozenset({"eps", "alpha"})


def stores_needed(spec) -> list[str]:
    return []


def build(params: dict, context) -> AdversarialCrossEntropy:
    eps = params.get("eps", DEFAULT_EPS)
    alpha = params.get("alpha", 1.25 * eps)

    def make(model):
        import torchattacks

        return torchattacks.FFGSM(model, eps=eps, alpha=alpha)

    return AdversarialCrossEntropy(OnlineAttack(make))
