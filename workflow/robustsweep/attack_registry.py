"""Attack registry: config `method` names to torchattacks constructors.

torchattacks implements every attack; this table only maps our names to its classes and
lists which parameters each accepts, so config validation catches an unknown name or parameter.
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
}


def attack_parameters(spec: Mapping) -> dict:
    """The keyword arguments of an attack spec (everything but its `method`)."""
    return {key: value for key, value in spec.items() if key != "method"}


def attack_method_parameters() -> dict[str, frozenset[str]]:
    """Allowed parameters of every registered attack method (for config validation)."""
    return {method: parameters for method, (_, parameters) in ATTACKS.items()}


def build_attack(model: nn.Module, spec: Mapping):
    """Instantiate the torchattacks attack for `spec` on `model` (inputs in [0, 1])."""
    import torchattacks

    class_name, _ = ATTACKS[spec["method"]]
    return getattr(torchattacks, class_name)(model, **attack_parameters(spec))
