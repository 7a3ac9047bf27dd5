"""Signs that a robust-accuracy number is inflated by gradient masking, not robustness.

Four of the checks RobustBench and Croce & Hein's AutoAttack apply (auto-attack's checks.py
and Carlini et al.'s evaluation checklist), none of which torchattacks offers:
- zero gradients: images where the cross-entropy's input gradient is exactly zero, so every
  gradient-based attack stands still there;
- huge epsilon: an L-infinity PGD whose budget covers the whole [0, 1] image must bring
  accuracy to chance or below; a model that stays above chance is hiding its gradients;
- black box beats white box: an attack that does not use this model's gradients (a transfer
  copy of the same attack from the store, or a black-box method such as Square or plain
  noise, at the same budget) leaves lower accuracy than a gradient-based white-box attack;
- randomness: two forward passes of the same batch, in eval mode, disagree beyond float noise
  (auto-attack's check_randomized): a randomised model (dropout left on, random input
  transforms) shows attacks a different function at every query, so fixed-eps attacks
  understate what an attack averaging over the randomness (EOT, AutoAttack's `rand` version)
  would find.
The first two and the randomness are measured once per model when its logits are cached; the
third is read off the metric rows. Another, read off the rows too, is Kurakin et al.'s label
leaking (2017, "Adversarial machine learning at scale", sec. 4): a model whose accuracy on an
attacked test set (transfer or white-box) is above its clean accuracy has learnt to read the
attack's perturbation, which carries the true label when the attack was made from it (FGSM and
one-step attacks in adversarial training above all); its robust accuracy on that set says
nothing about robustness. "Above" is tested on the images, paired: the attacked set must have
made right significantly more images than it made wrong (McNemar's exact test, one-sided,
p < 0.05), so that a minimal-norm transfer set that changes nothing on another model, where an
image or two flip either way, is not flagged. Noise baselines carry no label and are not
checked. Each flag is a warning next to the numbers, not an error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from robustsweep.set_names import ATTACKED_PREFIXES, WHITE_BOX_PREFIX, transfer_set

if TYPE_CHECKING:
    import torch

# methods that never read the attacked model's gradients
BLACK_BOX_METHODS = frozenset({"square", "gn"})
# methods whose perturbation never depends on the label: they cannot leak it
LABEL_FREE_METHODS = frozenset({"gn"})
LEAK_SIGNIFICANCE = 0.05  # one-sided p-value of the paired test below which a set leaks
# Largest difference of two passes' L1-normalised logits (each row's entries sum to 1 in
# absolute value) that counts as float noise: a deterministic CPU pass repeats bit for bit,
# and non-deterministic GPU reductions move a value of size <= 1 by a few float32 ulps
# (1.2e-7 each); auto-attack's own threshold, 1e-8, is below one ulp and would flag those.
RANDOMNESS_TOLERANCE = 1e-5


def forward_disagreement(model: torch.nn.Module, images: torch.Tensor) -> float:
    """Largest difference between two forward passes of the same batch, on logits
    normalised by their L1 norm as auto-attack's check_randomized does (so the number does
    not grow with the logits' scale). The model is run as it is (the caller's eval mode)."""
    import torch

    with torch.no_grad():
        first, second = (model(images).double() for _ in range(2))

    def normalised(logits: torch.Tensor) -> torch.Tensor:
        return logits / (logits.abs().sum(1, keepdim=True) + 1e-10)

    if len(images) == 0:
        return 0.0
    return float((normalised(first) - normalised(second)).abs().max())


def zero_gradient_fraction(
    model: torch.nn.Module, images: torch.Tensor, targets: torch.Tensor, batch_size: int
) -> float:
    """Share of images whose cross-entropy gradient w.r.t. the input is exactly zero."""
    import torch
    from torch.nn.functional import cross_entropy

    zero = 0
    for start in range(0, len(images), batch_size):
        x = images[start : start + batch_size].clone().requires_grad_(True)
        loss = cross_entropy(model(x), targets[start : start + batch_size], reduction="sum")
        (grad,) = torch.autograd.grad(loss, x)
        zero += int((grad.flatten(1).abs().sum(1) == 0).sum())
    return zero / max(len(images), 1)


def huge_eps_accuracy(
    model: torch.nn.Module,
    images: torch.Tensor,
    targets: torch.Tensor,
    eps: float,
    steps: int,
    batch_size: int,
    seed: int,
) -> float:
    """Accuracy under torchattacks' L-infinity PGD with budget `eps` (step 2.5 eps / steps).

    The attack starts at the clean image: from a random start a budget this large lands on a
    random image that no model classifies, which would pass every model.
    """
    import torch
    import torchattacks

    attack = torchattacks.PGD(
        model, eps=eps, alpha=2.5 * eps / steps, steps=steps, random_start=False
    )
    torch.manual_seed(seed)
    correct = 0
    for start in range(0, len(images), batch_size):
        x, y = images[start : start + batch_size], targets[start : start + batch_size]
        adversarial = attack(x, y)
        with torch.no_grad():
            correct += int((model(adversarial).argmax(1) == y).sum())
    return correct / max(len(images), 1)


def attack_budget(spec: dict | None) -> tuple | None:
    """(norm, eps) of an attack spec, to compare only attacks of the same budget."""
    if spec is None or "eps" not in spec:
        return None
    return spec.get("norm", "L2" if spec["method"] == "pgdl2" else "Linf"), spec["eps"]


def masking_flags(
    accuracy: dict[str, float],
    specs: dict[str, dict],
    zero_gradients: float,
    huge_accuracy: float,
    n_classes: int,
    changes: dict[str, tuple[int, int]] | None = None,
    disagreement: float = float("nan"),
) -> list[str]:
    """The checks that fail for one run.

    accuracy: test set -> accuracy over all of the run's classes; specs: attacked test set
    (`white_box-X`, and `attack-X` where its store's spec is known) -> its attack spec. Transfer
    copies (`attack-X`) compare with `white_box-X`; black-box white-box sets compare with
    gradient-based ones of the same budget; every attacked set compares with clean accuracy
    (`changes`: attacked set -> images it made right, images it made wrong, for the paired
    label-leaking test; a set without them is flagged whenever it is more accurate);
    `disagreement`: forward_disagreement of the model (NaN: not measured).
    """
    flags = []
    if disagreement > RANDOMNESS_TOLERANCE:
        flags.append(
            f"randomness: two forward passes of the same batch differ by {disagreement:.2g} "
            "(dropout or random transforms left on?); attack with EOT"
        )
    if zero_gradients > 0:
        flags.append(f"zero gradients on {zero_gradients:.1%} of images")
    if huge_accuracy > 1 / n_classes:
        flags.append(f"{huge_accuracy:.1%} accuracy at a huge eps (chance {1 / n_classes:.1%})")
    flags += label_leaking(accuracy, specs, changes or {})
    specs = {name: spec for name, spec in specs.items() if name.startswith(WHITE_BOX_PREFIX)}
    gradient_based = {
        name: spec for name, spec in specs.items() if spec["method"] not in BLACK_BOX_METHODS
    }
    for name in gradient_based:
        transfer = transfer_set(name.removeprefix(WHITE_BOX_PREFIX))
        if transfer in accuracy and accuracy[transfer] < accuracy[name]:
            flags.append(f"{transfer} (transfer) beats {name}")
    for name, spec in specs.items():
        budget = attack_budget(spec)
        if spec["method"] not in BLACK_BOX_METHODS or budget is None:
            continue
        for other, other_spec in gradient_based.items():
            if attack_budget(other_spec) == budget and accuracy[name] < accuracy[other]:
                flags.append(f"{name} (black box) beats {other}")
    return flags


def label_leaking(
    accuracy: dict[str, float], specs: dict[str, dict], changes: dict[str, tuple[int, int]]
) -> list[str]:
    """Attacked sets (transfer `attack-*`, white-box `white_box-*`) on which the run is more
    accurate than on the clean images (Kurakin et al.'s label leaking), noise excepted; where
    the paired changes are known, only significantly more accurate ones."""
    from scipy.stats import binomtest

    clean = accuracy.get("clean")
    if clean is None:
        return []
    flags = []
    for name, value in sorted(accuracy.items()):
        if not name.startswith(ATTACKED_PREFIXES) or value <= clean:
            continue
        if specs.get(name, {}).get("method") in LABEL_FREE_METHODS:
            continue
        if name in changes:
            gained, lost = changes[name]
            test = binomtest(gained, gained + lost, 0.5, alternative="greater")
            if test.pvalue >= LEAK_SIGNIFICANCE:
                continue
        flags.append(
            f"label leaking: {name} accuracy {value:.1%} above clean {clean:.1%} (Kurakin et al.)"
        )
    return flags
