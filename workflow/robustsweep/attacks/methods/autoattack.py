"""`autoattack`: Croce & Hein's AutoAttack, 'standard' version, from torchattacks' parts.

torchattacks' own `AutoAttack` runs APGD/APGD-T/FAB-T for 10 steps and targets n_classes - 1
classes (upstream issues #196, #188), so this assembles the same four torchattacks attacks
with the reference settings of the auto-attack package (REFERENCE_AUTOATTACK).
tests/test_attack_parity.py checks its robust accuracy against the official code (fra31's
auto-attack, as repackaged on PyPI by pyautoattack).
"""

from __future__ import annotations

from robustsweep.attacks.methods import ATTACK_METHODS, AttackMethod, check_budget
from robustsweep.registry import choice, integer, number

# auto-attack's set_version('standard') for Linf and L2: the attacks in order, with the
# settings torchattacks' own AutoAttack does not use (steps, restarts, target classes).
REFERENCE_AUTOATTACK: dict[str, dict] = {
    "apgd-ce": {"steps": 100, "n_restarts": 1, "loss": "ce", "rho": 0.75, "eot_iter": 1},
    "apgd-t": {"steps": 100, "n_restarts": 1, "n_target_classes": 9, "rho": 0.75},
    "fab-t": {"steps": 100, "n_restarts": 1, "n_target_classes": 9, "multi_targeted": True},
    # auto-attack's standard version turns the p schedule's rescaling off; torchattacks'
    # Square (and auto-attack's SquareAttack class) default to rescaling it to n_queries
    "square": {"n_queries": 5000, "n_restarts": 1, "p_init": 0.8, "resc_schedule": False},
}


@ATTACK_METHODS.register("autoattack")
class AutoAttack(AttackMethod):
    eps: float = number(8 / 255, exclusive_minimum=0, doc="budget in the chosen norm")
    norm: str = choice("Linf", ["Linf", "L2"], doc="threat model")
    seed: int = integer(0, minimum=0, doc="seed of the random starts and squares")

    def budget(self):
        return self.norm, self.eps

    def check(self, key, study):
        check_budget(key, self.norm, self.eps, study)

    def build(self, model, n_classes):
        return build_autoattack(model, n_classes, self.eps, self.norm, self.seed)


def build_autoattack(model, n_classes: int, eps: float, norm: str = "Linf", seed: int = 0):
    """AutoAttack 'standard' with the reference settings, as a torchattacks MultiAttack.

    A model with fewer than 10 classes has fewer than 9 other classes to target; the targeted
    attacks then take every other class (auto-attack itself would fail there). APGD-T's
    targeted DLR loss reads the four largest logits, so it is left out below 4 classes.
    """
    import torchattacks

    ref = REFERENCE_AUTOATTACK
    targets = min(ref["apgd-t"]["n_target_classes"], n_classes - 1)
    common = {"eps": eps, "norm": norm, "seed": seed}
    apgd = torchattacks.APGD(model, **common, **ref["apgd-ce"])
    apgdt_settings = {k: v for k, v in ref["apgd-t"].items() if k != "n_target_classes"}
    apgdt = torchattacks.APGDT(model, **common, n_classes=n_classes, **apgdt_settings)
    apgdt.n_target_classes = targets
    fab_settings = {k: v for k, v in ref["fab-t"].items() if k != "n_target_classes"}
    fab = torchattacks.FAB(model, **common, n_classes=n_classes, **fab_settings)
    fab.n_target_classes = targets
    square = torchattacks.Square(model, **common, **ref["square"])
    attacks = [apgd, apgdt, fab, square] if n_classes >= 4 else [apgd, fab, square]
    return torchattacks.MultiAttack(attacks)
