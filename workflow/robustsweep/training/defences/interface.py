"""What a defence is to the training loop: a batch-to-loss rule plus optional extras.

Most defences only define `loss`. tan2022's detector head also trains a second network and
ships it with the weights, so the loop asks every defence for extra parameters, checkpoint
state and tensors to save; FAT and AWP follow the epoch and AWP acts after the optimiser
step, so the loop tells every defence when an epoch starts and a step is done. The defaults
say "none".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from torch import nn


class DefenceTrainer:
    # True when `loss` runs no attack, so the training loop may run it under bf16 autocast
    autocast_safe: bool = False

    def prepare(self, model: nn.Module) -> None:
        """Called once with the freshly built model, before the optimiser is made."""

    def parameters(self) -> list[torch.nn.Parameter]:
        """Trainable parameters besides the model's (optimised with the same recipe)."""
        return []

    def state_dict(self) -> dict:
        """What a checkpoint must hold to resume this defence exactly."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what `state_dict` returned."""

    def start_epoch(self, epoch: int) -> None:
        """Called before each epoch (0-based), also after a resume: for schedules inside the
        defence (FAT's early-stop budget, AWP's warm-up)."""

    def after_step(self, model: nn.Module) -> None:
        """Called after each optimiser step (AWP takes its weight perturbation back here)."""

    def saved_tensors(self) -> tuple[dict[str, torch.Tensor], dict | None]:
        """Tensors to store beside the weights and the model-card entry describing them."""
        return {}, None

    def loss(
        self,
        model: nn.Module,
        images: torch.Tensor,
        targets: torch.Tensor,
        positions: torch.Tensor,
        generator: torch.Generator,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss to minimise, logits of the inputs actually trained on), or with a third
        element the targets those logits are scored against when they are not `targets`
        (a binary detector's real/adversarial labels, over a batch it enlarged)."""
        raise NotImplementedError
