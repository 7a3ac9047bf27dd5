"""Attack registry: config `method` names to torchattacks constructors.

torchattacks implements every attack; this table only maps our names to its classes and
lists which parameters each accepts, so config validation catches an unknown name or parameter.
AutoAttack is the one exception: torchattacks' `AutoAttack` runs APGD/APGD-T/FAB-T for 10
steps and targets n_classes-1 classes (upstream issues #196, #188), so `autoattack` assembles
the same four torchattacks attacks with the reference "standard" settings of Croce & Hein's
auto-attack package (REFERENCE_AUTOATTACK). `deepfool` runs batched_deepfool.BatchedDeepFool,
torchattacks' DeepFool update computed for a whole batch at once (torchattacks loops per image).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn

# method name -> (torchattacks class name, allowed parameters)
ATTACKS: dict[str, tuple[str, frozenset[str]]] = {
    "gn": ("GN", frozenset({"std"})),
    "fgsm": ("FGSM", frozenset({"eps"})),
    "bim": ("BIM", frozenset({"eps", "alpha", "steps"})),
    "pgd": ("PGD", frozenset({"eps", "alpha", "steps", "random_start"})),
    "pgdl2": ("PGDL2", frozenset({"eps", "alpha", "steps", "random_start"})),
    "deepfool": ("DeepFool", frozenset({"steps", "overshoot"})),
    "cw": ("CW", frozenset({"c", "kappa", "steps", "lr"})),
    "square": ("Square", frozenset({"eps", "norm", "n_queries", "p_init", "seed"})),
    "autoattack": ("MultiAttack", frozenset({"eps", "norm", "seed"})),
}

# auto-attack's set_version('standard') for Linf and L2: the attacks in order, with the
# settings torchattacks' own AutoAttack does not use (steps, restarts, target classes).
REFERENCE_AUTOATTACK: dict[str, dict] = {
    "apgd-ce": {"steps": 100, "n_restarts": 1, "loss": "ce", "rho": 0.75, "eot_iter": 1},
    "apgd-t": {"steps": 100, "n_restarts": 1, "n_target_classes": 9, "rho": 0.75},
    "fab-t": {"steps": 100, "n_restarts": 1, "n_target_classes": 9, "multi_targeted": True},
    "square": {"n_queries": 5000, "n_restarts": 1, "p_init": 0.8},
}


def attack_parameters(spec: Mapping) -> dict:
    """The keyword arguments of an attack spec (everything but its `method`)."""
    return {key: value for key, value in spec.items() if key != "method"}


def attack_method_parameters() -> dict[str, frozenset[str]]:
    """Allowed parameters of every registered attack method (for config validation)."""
    return {method: parameters for method, (_, parameters) in ATTACKS.items()}


def build_autoattack(
    model: nn.Module, n_classes: int, eps: float, norm: str = "Linf", seed: int = 0
):
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


def build_attack(model: nn.Module, spec: Mapping, n_classes: int):
    """Instantiate the torchattacks attack for `spec` on `model` (inputs in [0, 1])."""
    import torchattacks

    if spec["method"] == "autoattack":
        return build_autoattack(model, n_classes, **attack_parameters(spec))
    if spec["method"] == "deepfool":
        from robustsweep.batched_deepfool import BatchedDeepFool

        return BatchedDeepFool(model, **attack_parameters(spec))
    class_name, _ = ATTACKS[spec["method"]]
    return getattr(torchattacks, class_name)(model, **attack_parameters(spec))
