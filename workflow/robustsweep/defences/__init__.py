"""Defence registry: each defence is one small module exposing `build(params, context)`.

A defence turns a training batch into a loss. That one interface covers plain training,
offline adversarial mixing from the store and online adversarial training (PGD-AT, fast
FGSM-RS, TRADES, MART), whose losses differ in more than their inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from robustsweep.defences import fgsm_rs, mart, offline_adversarial, pgd_at, standard, trades

if TYPE_CHECKING:  # torch stays unimported until training: the Snakefile imports this registry
    import torch
    from torch import nn


@dataclass
class TrainingContext:
    """What a defence may need besides the batch: the device and the train split's stores."""

    device: torch.device
    train_indices: torch.Tensor  # row in the prepared dataset of each train-split position
    store_paths: Mapping[str, Path] = field(default_factory=dict)


class Defence(Protocol):
    def loss(
        self,
        model: nn.Module,
        images: torch.Tensor,
        targets: torch.Tensor,
        positions: torch.Tensor,
        generator: torch.Generator,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss to minimise, logits of the inputs actually trained on)."""
        ...


DEFENCES = {
    "standard": standard,
    "offline_adversarial": offline_adversarial,
    "pgd_at": pgd_at,
    "fgsm_rs": fgsm_rs,
    "trades": trades,
    "mart": mart,
}


def defence_method_parameters() -> dict[str, frozenset[str]]:
    """Allowed parameters of every registered defence method (for config validation)."""
    return {method: module.PARAMETERS for method, module in DEFENCES.items()}


def stores_needed(spec: Mapping) -> list[str]:
    """Attack names whose train-split store this defence reads (drives rule inputs)."""
    return list(DEFENCES[spec["method"]].stores_needed(spec))


def check_defence(name: str, spec: Mapping) -> None:
    """Cross-parameter checks a defence module may define (raised as ConfigError)."""
    module = DEFENCES[spec["method"]]
    if hasattr(module, "check"):
        module.check(name, spec)


def build_defence(spec: Mapping, context: TrainingContext) -> Defence:
    params = {k: v for k, v in spec.items() if k != "method"}
    return DEFENCES[spec["method"]].build(params, context)
