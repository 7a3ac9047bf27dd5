"""Defence registry: each defence is one small module exposing `build(params, context)`.

A defence turns a training batch into a loss (interface.py). That one interface covers plain
training, offline adversarial mixing from the store, online adversarial training (PGD-AT, fast
FGSM-RS, TRADES, MART, seed 004's sign-init mixing), whose losses differ in more than their
inputs, and seed 001's detector head, which trains a second network beside the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from robustsweep.defences import (
    detector_head,
    fgsm_rs,
    mart,
    offline_adversarial,
    pgd_at,
    sign_init_mix,
    standard,
    trades,
)
from robustsweep.defences.interface import Defence

if TYPE_CHECKING:  # torch stays unimported until training: the Snakefile imports this registry
    import torch


@dataclass
class TrainingContext:
    """What a defence may need besides the batch: the device, the train split's stores and,
    for defences that compare against one, the weights of the run's clean copy."""

    device: torch.device
    train_indices: torch.Tensor  # row in the prepared dataset of each train-split position
    store_paths: Mapping[str, Path] = field(default_factory=dict)
    clean_copy: Path | None = None
    image_size: int = 32


DEFENCES = {
    "standard": standard,
    "offline_adversarial": offline_adversarial,
    "pgd_at": pgd_at,
    "fgsm_rs": fgsm_rs,
    "trades": trades,
    "mart": mart,
    "sign_init_mix": sign_init_mix,
    "detector_head": detector_head,
}


def defence_method_parameters() -> dict[str, frozenset[str]]:
    """Allowed parameters of every registered defence method (for config validation)."""
    return {method: module.PARAMETERS for method, module in DEFENCES.items()}


def stores_needed(spec: Mapping) -> list[str]:
    """Attack names whose train-split store this defence reads (drives rule inputs)."""
    return list(DEFENCES[spec["method"]].stores_needed(spec))


def needs_clean_copy(spec: Mapping) -> bool:
    """Whether the defence reads the `standard` run of the same (model, N, seed)."""
    return getattr(DEFENCES[spec["method"]], "NEEDS_CLEAN_COPY", False)


def check_defence(name: str, spec: Mapping) -> None:
    """Cross-parameter checks a defence module may define (raised as ConfigError)."""
    module = DEFENCES[spec["method"]]
    if hasattr(module, "check"):
        module.check(name, spec)


def build_defence(spec: Mapping, context: TrainingContext) -> Defence:
    params = {k: v for k, v in spec.items() if k != "method"}
    return DEFENCES[spec["method"]].build(params, context)
