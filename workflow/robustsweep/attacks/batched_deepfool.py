"""DeepFool over a whole batch at once, with torchattacks' semantics.

torchattacks' `DeepFool` loops over the images of a batch one at a time and builds each
image's Jacobian with one backward pass per class (upstream issue #74), so a batch of B images
costs B * K backward passes per step. No maintained library ships a batched DeepFool that keeps
torchattacks' exact update, so it is written here: one backward pass per class serves every
image of the batch (the images are independent in eval mode), i.e. K + 1 passes per step.

The update is torchattacks' step for step: an image whose prediction is already wrong stops;
otherwise it moves from its *current* position by (1 + overshoot) times the minimal linearised
step towards the nearest other class, and is clipped to [0, 1]; at most `steps` steps.
The Jacobian is never held whole: classes are visited one at a time and only the best
direction so far is kept per image, so memory is O(batch * pixels) even for 1000 classes.
"""

from __future__ import annotations

import torch
from torchattacks.attack import Attack


class BatchedDeepFool(Attack):
    """Drop-in for `torchattacks.DeepFool(model, steps, overshoot)` on whole batches."""

    def __init__(self, model: torch.nn.Module, steps: int = 50, overshoot: float = 0.02):
        super().__init__("DeepFool", model)
        self.steps = steps
        self.overshoot = overshoot
        self.supported_mode = ["default"]

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        adversarial = images.clone().detach().to(self.device)
        labels = labels.clone().detach().to(self.device)
        active = torch.arange(len(adversarial), device=self.device)
        for _ in range(self.steps):
            if len(active) == 0:
                break
            moved, still_correct = self._step(adversarial[active], labels[active])
            adversarial[active] = moved
            active = active[still_correct]
        return adversarial

    def _step(self, images: torch.Tensor, labels: torch.Tensor):
        """One DeepFool step for every image; returns the images after it and which of them
        were still classified correctly before it (the ones that keep going)."""
        x = images.clone().requires_grad_(True)
        logits = self.get_logits(x)
        correct = logits.argmax(1) == labels
        if not correct.any():
            return images, correct
        own = logits.gather(1, labels[:, None]).squeeze(1)
        (own_gradient,) = torch.autograd.grad(own.sum(), x, retain_graph=True)
        best_value = torch.full_like(own, float("inf"))
        best_direction = torch.zeros_like(x)
        best_gap = torch.zeros_like(own)
        classes = logits.shape[1]
        for k in range(classes):
            (gradient,) = torch.autograd.grad(logits[:, k].sum(), x, retain_graph=k + 1 < classes)
            direction = gradient - own_gradient
            gap = (logits[:, k] - own).detach().abs()
            value = gap / direction.flatten(1).norm(dim=1)
            # strict '<' keeps the first minimum, as torch.min does in torchattacks
            better = (value < best_value) & (labels != k)
            best_value = torch.where(better, value, best_value)
            best_gap = torch.where(better, gap, best_gap)
            best_direction[better] = direction[better]
        squared_norm = best_direction.flatten(1).norm(dim=1).pow(2)
        delta = (best_gap / squared_norm).view(-1, *[1] * (x.dim() - 1)) * best_direction
        stepped = torch.clamp(images + (1 + self.overshoot) * delta, 0, 1)
        return torch.where(correct.view(-1, *[1] * (x.dim() - 1)), stepped, images), correct
