"""`awp`: adversarial weight perturbation (Wu, Xia and Wang 2020, NeurIPS) on top of PGD-AT
(`base: at`) or TRADES (`base: trades`).

Per batch: craft the base method's adversarial examples; find the weight direction that most
increases the base loss, layer by layer, v_l = g_l / ||g_l|| * ||w_l|| (g_l the loss gradient
of each conv/linear weight matrix; biases and BatchNorm are not perturbed); train on the
weights w + gamma * v, then step the optimiser and take the perturbation back (w - gamma * v).
The official code (csdongxian/AWP, utils_awp.py) finds v by one SGD ascent step of a proxy
copy of the model; after the per-layer renormalisation that step's learning rate cancels, so
v is the normalised gradient itself, taken here on the proxy copy (whose BatchNorm statistics
are thrown away) without its optimiser. The perturbation starts after `warmup` epochs.
Under data parallelism the proxy copies the module inside DDP, and each rank's gradient of
its share's loss is combined into the global batch's (data_parallel.global_mean_gradients),
so every rank perturbs the weights alike, by the one-process direction (BatchNorm's
statistics aside: the proxy normalises each share with its own on the CPU).

Defaults are the official code's per base: AT (AT_AWP/train_cifar10.py) gamma 0.01, no
warm-up, examples crafted in train mode from a uniform start (as `pgd_at`); TRADES
(trades_AWP/train_trades_cifar.py) gamma 0.005, beta 6, examples crafted in eval mode from
TRADES's unclamped x + 0.001 N(0, 1) start (as `trades`), and the perturbation from the
script's epoch 10, which counts from 1: 9 warm-up epochs here, counted from 0. PGD-10 at 8/255
with step 2/255 either way (the AWP scripts' own budget, also for TRADES). xu2024's copy
(MTandHJ/rcm) crafts in eval mode for both and counts epochs from 0 (10 warm-up epochs with
TRADES): its study sets those. No maintained library ships AWP, so it is written out here.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from robustsweep.registry import choice, mapping, number
from robustsweep.training.defences import DEFENCES
from robustsweep.training.defences.interface import DefenceTrainer
from robustsweep.training.defences.online_attack import CRAFT_MODES, PGDBudget, pgd_attack
from robustsweep.training.defences.trades import TradesAttack, trades_loss

if TYPE_CHECKING:
    import torch
    from torch import nn

# the official code's defaults per base method: (gamma, warm-up epochs counted from 0, craft mode)
BASE_DEFAULTS = {"at": (0.01, 0, "train"), "trades": (0.005, 9, "eval")}
EPS = 1e-20  # the official code's guard against a zero gradient


@DEFENCES.register("awp")
class AdversarialWeightPerturbation(PGDBudget):
    data_parallel = True  # verified: tests/test_data_parallel.py

    base: str = choice("at", list(BASE_DEFAULTS), doc="the adversarial training it perturbs")
    gamma: float | None = number(
        None,
        minimum=0,
        nullable=True,
        doc="size of the weight perturbation relative to each layer's norm (default 0.01 "
        "with at, 0.005 with trades)",
    )
    warmup: int | None = mapping(
        None,
        schema={"type": ["integer", "null"], "minimum": 0},
        doc="epochs of the base method alone first (default 0 with at, 9 with trades: the "
        "released script perturbs from its epoch 10, counted from 1)",
    )
    beta: float = number(6.0, minimum=0, doc="trades: weight of the KL term")
    craft_mode: str | None = mapping(
        None,
        schema={"enum": [*CRAFT_MODES, None]},
        doc="mode of the model while it is attacked (default train with at, eval with "
        "trades, as the official code)",
    )

    def __post_init__(self):
        gamma, warmup, craft_mode = BASE_DEFAULTS[self.base]
        if self.gamma is None:
            object.__setattr__(self, "gamma", gamma)
        if self.warmup is None:
            object.__setattr__(self, "warmup", warmup)
        if self.craft_mode is None:
            object.__setattr__(self, "craft_mode", craft_mode)

    def build(self, context) -> AwpTrainer:
        if self.base == "trades":
            attack = TradesAttack(self.eps, self.alpha, self.steps, self.craft_mode)
        else:
            attack = pgd_attack(self.eps, self.alpha, self.steps, self.craft_mode)
        return AwpTrainer(attack, self)


def perturbed_weights(model: nn.Module) -> list[tuple[str, torch.nn.Parameter]]:
    """The weights AWP perturbs: every parameter named `weight` with two or more dimensions
    (conv kernels, linear matrices)."""
    return [(name, p) for name, p in model.named_parameters() if p.dim() > 1 and "weight" in name]


def weight_perturbation(
    model: nn.Module, proxy: nn.Module, objective, count: int
) -> dict[str, torch.Tensor]:
    """v_l = g_l ||w_l|| / ||g_l|| for each perturbed weight, g the gradient of
    `objective(proxy)` (a mean over `count` images) with the proxy holding the model's
    weights, in train mode; under data parallelism g is the global batch's."""
    import torch

    from robustsweep.training.data_parallel import global_mean_gradients

    proxy.load_state_dict(model.state_dict())
    proxy.train()
    named = perturbed_weights(proxy)
    grads = torch.autograd.grad(objective(proxy), [p for _, p in named])
    grads = global_mean_gradients(list(grads), count)
    weights = dict(perturbed_weights(model))
    return {
        name: grad * (weights[name].detach().norm() / (grad.norm() + EPS))
        for (name, _), grad in zip(named, grads, strict=True)
    }


def add_to_weights(model: nn.Module, direction: dict[str, torch.Tensor], coeff: float) -> None:
    import torch

    with torch.no_grad():
        for name, parameter in perturbed_weights(model):
            parameter.add_(direction[name], alpha=coeff)


class AwpTrainer(DefenceTrainer):
    def __init__(self, attack, method: AdversarialWeightPerturbation):
        self.attack = attack
        self.method = method
        self.proxy = None
        self.active = False
        self.pending: dict | None = None  # the perturbation to take back after the step

    def prepare(self, model: nn.Module) -> None:
        from robustsweep.ranks import ranks

        # under data parallelism, copied on the first step from the module inside DDP
        # (SyncBatchNorm layers on GPUs, so the proxy normalises with the global batch too)
        self.proxy = copy.deepcopy(model) if ranks().size == 1 else None

    def start_epoch(self, epoch: int) -> None:
        self.active = epoch >= self.method.warmup and self.method.gamma > 0

    def objective(self, model, images, adversarial, targets):
        """(base training loss, logits of the images trained on) of `model`."""
        from torch.nn.functional import cross_entropy

        if self.method.base == "trades":
            logits = model(images)
            return trades_loss(logits, model(adversarial), targets, self.method.beta), logits
        logits = model(adversarial)
        return cross_entropy(logits, targets), logits

    def loss(
        self,
        model: nn.Module,
        images: torch.Tensor,
        targets: torch.Tensor,
        positions: torch.Tensor,
        generator: torch.Generator,
    ):
        from robustsweep.training.data_parallel import unwrapped

        adversarial = self.attack(model, images, targets)
        if self.active:
            inner = unwrapped(model)  # DDP's state-dict keys and parameter names have "module."
            if self.proxy is None or next(self.proxy.parameters()).device != images.device:
                self.proxy = copy.deepcopy(inner)
            self.pending = weight_perturbation(
                inner,
                self.proxy,
                lambda net: self.objective(net, images, adversarial, targets)[0],
                len(images),
            )
            add_to_weights(inner, self.pending, self.method.gamma)
        return self.objective(model, images, adversarial, targets)

    def after_step(self, model: nn.Module) -> None:
        if self.pending is not None:
            add_to_weights(model, self.pending, -self.method.gamma)
            self.pending = None
