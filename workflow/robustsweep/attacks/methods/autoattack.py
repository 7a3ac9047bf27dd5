"""`autoattack`: AutoAttack (Croce and Hein 2020, arXiv:2003.01690), 'standard' version, from
torchattacks' parts.

torchattacks' own `AutoAttack` runs APGD/APGD-T/FAB-T for 10 steps and targets n_classes - 1
classes (upstream issues #196, #188), so this assembles the same four torchattacks attacks
with the reference settings of the auto-attack package (REFERENCE_AUTOATTACK).
tests/test_attack_parity.py checks its robust accuracy against the official code (fra31's
auto-attack, as repackaged on PyPI by pyautoattack). Below 10 classes it is not the standard
version (build_autoattack); `autoattack_variant` says what was run, and every success report,
attacks.csv and the robust-accuracy table's header cell carry that string (auto-attack#70,
#76, #79, #110: users asking which AutoAttack a number is).
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

    def variant(self, n_classes: int) -> str:
        return autoattack_variant(n_classes, self.norm)


def autoattack_attacks(n_classes: int) -> list[str]:
    """The attacks run, in order: APGD-T's targeted DLR loss needs 4 classes or more."""
    names = list(REFERENCE_AUTOATTACK)
    return names if n_classes >= 4 else [name for name in names if name != "apgd-t"]


def target_classes(n_classes: int) -> int:
    """Target classes of APGD-T and FAB-T: the reference 9, or every other class below 10."""
    return min(REFERENCE_AUTOATTACK["apgd-t"]["n_target_classes"], n_classes - 1)


def autoattack_variant(n_classes: int, norm: str = "Linf") -> str:
    """What build_autoattack runs against an n-class model, in words: the version (auto-attack's
    'standard', or 'standard adapted' below 10 classes), the norm, the attacks, the number of
    target classes and Square's queries. The part before ':' is the short form tables print."""
    reference = target_classes(n_classes) == REFERENCE_AUTOATTACK["apgd-t"]["n_target_classes"]
    version = "standard" if reference else f"standard adapted to {n_classes} classes"
    queries = REFERENCE_AUTOATTACK["square"]["n_queries"]
    return (
        f"AutoAttack {version}, {norm}: {', '.join(autoattack_attacks(n_classes))}; "
        f"{target_classes(n_classes)} target classes; square {queries} queries"
    )


def build_autoattack(model, n_classes: int, eps: float, norm: str = "Linf", seed: int = 0):
    """AutoAttack 'standard' with the reference settings, as a torchattacks MultiAttack.

    A model with fewer than 10 classes has fewer than 9 other classes to target; the targeted
    attacks then take every other class (auto-attack itself would fail there). APGD-T's
    targeted DLR loss reads the four largest logits, so it is left out below 4 classes.
    """
    import torchattacks

    ref = REFERENCE_AUTOATTACK
    targets = target_classes(n_classes)
    common = {"eps": eps, "norm": norm, "seed": seed}
    apgd = torchattacks.APGD(model, **common, **ref["apgd-ce"])
    apgdt_settings = {k: v for k, v in ref["apgd-t"].items() if k != "n_target_classes"}
    apgdt = torchattacks.APGDT(model, **common, n_classes=n_classes, **apgdt_settings)
    apgdt.n_target_classes = targets
    fab_settings = {k: v for k, v in ref["fab-t"].items() if k != "n_target_classes"}
    fab = torchattacks.FAB(model, **common, n_classes=n_classes, **fab_settings)
    fab.n_target_classes = targets
    square = torchattacks.Square(model, **common, **ref["square"])
    built = {"apgd-ce": apgd, "apgd-t": apgdt, "fab-t": fab, "square": square}
    return torchattacks.MultiAttack([built[name] for name in autoattack_attacks(n_classes)])
