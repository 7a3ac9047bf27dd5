"""tan2022's neural style transfer attack on a batch (the torchattacks `Attack` the `nst`
method builds: attacks/methods/nst.py says what it does and why it is written here)."""

from __future__ import annotations

import torch
from torchattacks.attack import Attack


def other_class_targets(labels: torch.Tensor, generator: torch.Generator | None = None):
    """For each image, the index of a uniformly random image of another class in the batch
    (its own index where the batch holds no other class)."""
    other = labels[None, :] != labels[:, None]  # (i, j): j may be i's target
    weights = other.float()
    alone = ~other.any(1)
    weights[alone, :] = 0
    weights[alone, alone.nonzero().squeeze(1)] = 1.0  # itself: no change
    return torch.multinomial(weights, 1, generator=generator).squeeze(1)


class StyleTransferAttack(Attack):
    """The authors' NST on a batch; a torchattacks `Attack` (eval mode, device handling), so
    it drops in wherever a torchattacks attack does."""

    def __init__(self, model, lr: float, steps: int, momentum: float, weight_decay: float):
        super().__init__("NST", model)
        self.lr, self.steps = lr, steps
        self.momentum, self.weight_decay = momentum, weight_decay
        self.supported_mode = ["default"]

    def features(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The first ("style") and last ("content") feature stage's maps of `images`."""
        from robustsweep.models.networks import feature_stages

        stages = feature_stages(self.model)
        maps: dict[int, torch.Tensor] = {}
        handles = [
            stage.register_forward_hook(lambda _m, _i, out, k=k: maps.__setitem__(k, out))
            for k, stage in ((0, stages[0]), (1, stages[-1]))
        ]
        try:
            self.get_logits(images)
        finally:
            for handle in handles:
                handle.remove()
        return maps[0], maps[1]

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        images = images.clone().detach().to(self.device)
        labels = labels.clone().detach().to(self.device)
        targets = other_class_targets(labels.cpu()).to(self.device)
        with torch.no_grad():
            style, content = self.features(images[targets])
        x, velocity = images.clone(), None
        for _ in range(self.steps):
            x.requires_grad_(True)
            style_x, content_x = self.features(x)
            # each image's loss is a mean over its own maps, as the authors' per-image loop
            style_loss = (style_x - style).pow(2).flatten(1).mean(1)
            content_loss = (content_x - content).pow(2).flatten(1).mean(1)
            (gradient,) = torch.autograd.grad((style_loss + content_loss).sum(), x)
            x, velocity = self.sgd_step(x.detach(), gradient, velocity)
        return x.clamp(0, 1)

    def sgd_step(self, x, gradient, velocity):
        """torch.optim.SGD's update (dampening 0, not Nesterov), written out: a job's first
        torch.optim step costs about 4 s (it loads torch._dynamo), more than the attack itself
        at small scale. tests/test_nst_attack.py checks it against torch.optim.SGD in the
        authors' loop."""
        step = gradient + self.weight_decay * x
        velocity = step if velocity is None else self.momentum * velocity + step
        return x - self.lr * velocity, velocity
