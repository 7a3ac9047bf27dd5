"""Rounding attacked images to uint8 without leaving the threat model or losing the attack.

Every stored (adversarial_store.py) and white-box (evaluation/white_box.py) image is written
as uint8, as a real 8-bit image file would hold it. Rounding each pixel to the nearest level
has two faults this module removes:

- it leaves the budget: an L-inf perturbation of eps = 0.1 (25.5 levels) rounds to 26 levels,
  0.102 (and an L2 perturbation grows likewise). Here a perturbation is first projected onto
  its ball (a no-op for a correct attack), then rounded to the nearest level except where that
  would cross the budget: L-inf rounds those pixels towards the clean pixel; L2 rounds towards
  the clean pixel the pixels that nearest-rounding pushed outward most, one at a time, until
  the norm fits (every pixel rounded towards the clean one is at most the float norm, so this
  always ends inside the ball).
- it undoes the attack: a perturbation that ends just past the decision boundary (DeepFool,
  C&W) falls back across it once rounded (on the digits source, 13 % of DeepFool's images
  stayed adversarial). Every image that fooled the model in float but not after rounding is
  repaired on the uint8 grid, and counted:
  * bounded attacks: the perturbation rounded away from the clean pixel (still inside the
    budget), then, for attacks that read gradients, up to GRID_STEPS steps of one grey level
    along the signed input gradient of the cross-entropy (L-inf) or of GRID_STEP_L2 of the
    budget along the normalised gradient (L2), each rounded back inside the budget as above.
    Black-box attacks (Square) get only the gradient-free outward rounding: a gradient step
    would turn them into white-box attacks and break the gradient-masking comparison that
    relies on them reading no gradients.
  * minimal-norm attacks (DeepFool, C&W; no budget): the float perturbation pushed further
    along itself, scaled by each of SCALES in turn (at most MAX_SCALE times its length) until
    the rounded image fools the model again: the attack's own direction, a bounded way past
    the boundary it found.
  * noise baselines (`gn`): rounded, never repaired (they are not meant to fool).
  An image whose repair fails keeps its nearest rounding within the budget.

No library offers rounding under a budget (torchattacks and foolbox return floats), so this is
written here; tests/test_quantisation.py checks the budget and the repair on a trained model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch.nn.functional import cross_entropy

if TYPE_CHECKING:
    from robustsweep.attacks.methods import AttackMethod

LEVELS = 255.0
GRID_STEPS = 10  # signed-gradient steps of the bounded repair
GRID_STEP_L2 = 0.25  # an L2 repair step, as a share of the budget
SCALES = (1.05, 1.1, 1.2, 1.35, 1.5, 1.75, 2.0)  # minimal-norm repair: perturbation x these
MAX_SCALE = SCALES[-1]
SLACK = 1e-6  # in grey levels: float error of eps * 255, never a whole level
FLOAT_NOISE = 1e-3  # in grey levels: float32 error of a [0, 1] pixel times 255 is ~2e-5


@dataclass(frozen=True)
class QuantisedBatch:
    """Attacked images on the uint8 grid and what the model made of them (class positions)."""

    images: torch.Tensor  # uint8 (N, H, W, C), within the attack's budget
    clean_pred: torch.Tensor  # on the clean images
    float_pred: torch.Tensor  # on the attack's float output
    final_pred: torch.Tensor  # on the stored images
    repaired: torch.Tensor  # bool: fooled in float, not after rounding within the budget
    final_logits: torch.Tensor  # the model's logits on the stored images (final_pred's)


def quantise_attack(
    model: torch.nn.Module,
    method: AttackMethod,
    clean: torch.Tensor,
    adversarial: torch.Tensor,
    targets: torch.Tensor,
    repair_rounding: bool = True,
) -> QuantisedBatch:
    """Round `adversarial` (floats (N, C, H, W) in [0, 1], made from `clean` by `method`) to
    uint8 within the method's budget, repairing examples that rounding made harmless (unless
    `repair_rounding` is off: `attacks.store.repair: false`, the authors' storage; they are
    still counted in `repaired`)."""
    budget = method.budget()
    clean_pred, float_pred = predict(model, clean), predict(model, adversarial)
    levels = round_within_budget(clean, adversarial, budget)
    final_logits = logits_of(model, levels / LEVELS)
    final_pred = final_logits.argmax(1)
    needs = (float_pred != targets) & (final_pred == targets)
    if needs.any() and not method.baseline and repair_rounding:
        rows = needs.nonzero().squeeze(1)
        fixed = repair(model, method, clean[rows], adversarial[rows], levels[rows], targets[rows])
        fixed_logits = logits_of(model, fixed / LEVELS)
        fixed_pred = fixed_logits.argmax(1)
        worked = fixed_pred != targets[rows]
        levels[rows[worked]] = fixed[worked]
        final_pred[rows[worked]] = fixed_pred[worked]
        final_logits[rows[worked]] = fixed_logits[worked]
    images = levels.to(torch.uint8).permute(0, 2, 3, 1)
    return QuantisedBatch(images, clean_pred, float_pred, final_pred, needs, final_logits)


def logits_of(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """float32 logits (the white-box file keeps those of the stored images: no second pass)."""
    with torch.no_grad():
        return model(images).float()


def predict(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    return logits_of(model, images).argmax(1)


def grey_levels(images: torch.Tensor) -> torch.Tensor:
    """[0, 1] floats to grey levels in [0, 255] (not rounded), as a new tensor."""
    return images.clamp(0, 1).mul_(LEVELS)


def round_within_budget(
    clean: torch.Tensor,
    adversarial: torch.Tensor,
    budget: tuple[str, float] | None,
    outward: bool = False,
) -> torch.Tensor:
    """Integer grey levels (float tensor, (N, C, H, W)) of `adversarial` rounded to the nearest
    level (`outward`: away from the clean pixel) but never past the budget (norm, eps).

    Without a budget, nearest rounding needs no clean pixel: the adversarial pixel's levels
    are rounded directly (ties to the even level), in one pass over the batch."""
    if budget is None and not outward:
        return grey_levels(adversarial).round_()
    base = grey_levels(clean).round()
    delta = grey_levels(adversarial) - base
    if budget is None:
        return (base + _round(delta, outward)).clamp(0, LEVELS)
    norm, eps = budget
    radius = eps * LEVELS
    if norm == "Linf":
        whole = math.floor(radius + SLACK)
        rounded = _round(delta.clamp(-radius, radius), outward).clamp(-whole, whole)
    elif norm == "L2":
        delta = delta * (radius / _l2(delta).clamp_min(radius)).view(-1, 1, 1, 1)
        rounded = fit_l2(_round(delta, outward), delta, radius)
    else:
        raise ValueError(f"unknown norm {norm!r}")
    return (base + rounded).clamp(0, LEVELS)


def _round(delta: torch.Tensor, outward: bool) -> torch.Tensor:
    """Nearest level, or the next level away from the clean pixel (`outward`); within
    FLOAT_NOISE of a level counts as that level (an untouched pixel stays untouched)."""
    if not outward:
        return delta.round()
    return delta.sign() * (delta.abs() - FLOAT_NOISE).ceil().clamp_min(0)


def _l2(delta: torch.Tensor) -> torch.Tensor:
    return delta.flatten(1).norm(dim=1)


def fit_l2(rounded: torch.Tensor, delta: torch.Tensor, radius: float) -> torch.Tensor:
    """`rounded` (integer levels) with just enough pixels moved one level back towards the clean
    pixel that its L2 norm is at most `radius`: first the pixels rounded outward the most.

    Only pixels that rounding moved outward (|rounded| > |delta|) are moved back, so the result
    is never longer than `delta`, which lies in the ball."""
    flat, float_flat = rounded.flatten(1), delta.flatten(1)
    excess = flat.pow(2).sum(1) - radius**2 - SLACK
    if not (excess > 0).any():
        return rounded
    outward = flat.abs() - float_flat.abs()
    order = outward.argsort(dim=1, descending=True)
    gain = torch.where(outward > 0, 2 * flat.abs() - 1, torch.zeros_like(flat))
    saved = gain.gather(1, order).cumsum(1)
    # how many of the ordered pixels to move back: the fewest whose savings cover the excess
    count = (saved < excess[:, None]).sum(1) + 1
    count = torch.where(excess > 0, count, torch.zeros_like(count))
    take = torch.arange(flat.shape[1], device=flat.device)[None] < count[:, None]
    back = torch.zeros_like(flat).scatter(1, order, take.to(flat.dtype))
    return (flat - back * flat.sign()).view_as(rounded)


def repair(
    model: torch.nn.Module,
    method: AttackMethod,
    clean: torch.Tensor,
    adversarial: torch.Tensor,
    levels: torch.Tensor,
    targets: torch.Tensor,
) -> torch.Tensor:
    """Grey levels that fool the model where possible (see the module docstring); rows that
    no repair fools come back as they went in."""
    budget = method.budget()
    if budget is None:
        return push_along(model, clean, adversarial, levels, targets)
    outward = round_within_budget(clean, adversarial, budget, outward=True)
    fooled = predict(model, outward / LEVELS) != targets
    if method.black_box or fooled.all():
        return torch.where(fooled.view(-1, 1, 1, 1), outward, levels)
    start = torch.where(fooled.view(-1, 1, 1, 1), outward, levels)
    return grid_steps(model, clean, start, targets, budget, ~fooled)


def push_along(
    model: torch.nn.Module,
    clean: torch.Tensor,
    adversarial: torch.Tensor,
    levels: torch.Tensor,
    targets: torch.Tensor,
) -> torch.Tensor:
    """Minimal-norm repair: the perturbation scaled by the first of SCALES whose rounding fools."""
    result, pending = levels.clone(), torch.ones_like(targets, dtype=torch.bool)
    for scale in SCALES:
        pushed = clean + scale * (adversarial - clean)
        candidate = round_within_budget(clean[pending], pushed[pending], None)
        fooled = predict(model, candidate / LEVELS) != targets[pending]
        rows = pending.nonzero().squeeze(1)[fooled]
        result[rows] = candidate[fooled]
        pending[rows] = False
        if not pending.any():
            break
    return result


def grid_steps(
    model: torch.nn.Module,
    clean: torch.Tensor,
    levels: torch.Tensor,
    targets: torch.Tensor,
    budget: tuple[str, float],
    active: torch.Tensor,
) -> torch.Tensor:
    """Bounded repair: up to GRID_STEPS gradient steps on the uint8 grid for the `active` rows,
    each rounded back inside the budget; a row stops once it fools the model."""
    norm, eps = budget
    levels = levels.clone()
    for _ in range(GRID_STEPS):
        rows = active.nonzero().squeeze(1)
        if len(rows) == 0:
            break
        x = (levels[rows] / LEVELS).requires_grad_(True)
        loss = cross_entropy(model(x), targets[rows], reduction="sum")
        (gradient,) = torch.autograd.grad(loss, x)
        if norm == "Linf":
            step = gradient.sign()
        else:
            length = GRID_STEP_L2 * eps * LEVELS
            step = length * gradient / _l2(gradient).clamp_min(1e-12).view(-1, 1, 1, 1)
        moved = round_within_budget(clean[rows], (levels[rows] + step) / LEVELS, budget)
        levels[rows] = moved
        active[rows] = predict(model, moved / LEVELS) == targets[rows]
    return levels
