"""Attack methods: config `method` names to torchattacks attacks, one module per method.

torchattacks implements the attacks; each module here declares the method's typed parameters
(with torchattacks' defaults and the bounds of its threat model) and builds the attack.
Two are assembled here instead of taken as they are: `autoattack` (torchattacks' own runs 10
steps and targets n_classes - 1 classes, upstream #196 and #188; ours uses the reference
'standard' settings of Croce & Hein's auto-attack) and `deepfool` (batched, with foolbox's
semantics; torchattacks' loops over images and stops on the decision boundary). Every method
also says what the other stages need to know about it: its budget (norm and eps) where it has
one, whether it is black-box (never reads the attacked model's gradients; for the
gradient-masking checks and the gradient-free repair after rounding), minimal-norm (DeepFool,
C&W: no budget, repaired by pushing along the perturbation) or a noise baseline (reported, not
held to `attacks.min_success`); quantisation.py reads them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from robustsweep.input_errors import ConfigError
from robustsweep.registry import Method, Registry, StudyFacts

if TYPE_CHECKING:
    from torch import nn

ATTACK_METHODS = Registry("attack method", __name__)


class AttackMethod(Method):
    """Parameters of one attack; `build` makes the attack for a model on [0, 1] images."""

    black_box: ClassVar[bool] = False  # never reads the attacked model's gradients
    minimal_norm: ClassVar[bool] = False  # searches the smallest perturbation, no budget
    # a baseline perturbation (noise), not an attack: its success is reported, never repaired
    # after rounding nor held to attacks.min_success
    baseline: ClassVar[bool] = False

    def budget(self) -> tuple[str, float] | None:
        """(norm, eps) of a bounded attack ('Linf' or 'L2'); None for unbounded ones."""
        return None

    def build(self, model: nn.Module, n_classes: int):
        raise NotImplementedError

    def variant(self, n_classes: int) -> str:
        """What `build` runs against an n-class model where that is not fixed by the
        parameters alone ("" when it is; AutoAttack adapts below 10 classes)."""
        return ""


def image_diameter(image_size: int) -> float:
    """The L2 distance between an all-black and an all-white RGB image in [0, 1]."""
    return (3 * image_size * image_size) ** 0.5


def check_l2_budget(key: str, eps: float, study: StudyFacts) -> None:
    """An L2 budget larger than the image's diameter allows any image at all."""
    diameter = image_diameter(study.image_size)
    if eps > diameter:
        raise ConfigError(
            f"config key '{key}.eps' is {eps}, larger than the L2 diameter of a "
            f"{study.image_size} px RGB image ({diameter:.1f}); it must be at most that"
        )


def check_budget(key: str, norm: str, eps: float, study: StudyFacts) -> None:
    """An L-inf budget above 1, or an L2 one above the diameter, allows any image at all."""
    if norm == "Linf" and eps > 1:
        raise ConfigError(
            f"config key '{key}.eps' is {eps}: an L-inf budget above 1 covers every image in "
            "[0, 1]; it must be at most 1"
        )
    if norm == "L2":
        check_l2_budget(key, eps, study)


def build_attack(model: nn.Module, spec: dict, n_classes: int):
    """The attack of a validated spec ({method: name, parameters}) on `model`."""
    return ATTACK_METHODS.build(spec).build(model, n_classes)
