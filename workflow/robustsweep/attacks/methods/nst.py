"""`nst`: tan2022's neural-style-transfer attack, as the authors' released code makes it.

The authors' aisafe_glaring/aisafe_adv_samples.py (dowdyboy/simple_structure_for_robust_model,
`--adv-type NST`) draws for every image a random image of another class (the target), then
takes 10 steps of SGD (lr = --adv-noise, 0.1 in Table 1; momentum 0.9, weight decay 5e-4) on
the image itself, minimising mean((f1(x) - f1(t))^2) + mean((f4(x) - f4(t))^2), where f1 and
f4 are the attacked ResNet-34's own layer1 ("style") and layer4 ("content") feature maps
(its `feature_list`, indices 1 and 4); the result is clipped to [0, 1] once, at the end.

Here the features are the attacked model's own, as the authors': the first and the last of
its architecture's feature stages (models/networks.feature_stages: layer1 and layer4 of a
ResNet), read with forward hooks, so nothing is downloaded (no pretrained VGG: the authors
did not use one). Two differences, both for batching:
- the target is drawn from the batch being attacked (a uniformly random image of another
  class in it), not from the whole split; at the study's batch of 512 CIFAR-10 images the
  draw is close to uniform over the split's other-class images. An image whose batch holds
  no other class is returned unchanged.
- all images of a batch are optimised at once on the sum of their per-image losses. The
  model runs in eval mode (BatchNorm on running statistics), so each image's gradient, and
  SGD's per-element momentum and weight decay, are exactly those of the authors' loop over
  single images.

No library offers this attack (torchattacks has no style transfer), so it is written here;
tests/test_nst_attack.py checks it against the authors' per-image loop written independently.
"""

from __future__ import annotations

import torch
from torchattacks.attack import Attack

from robustsweep.attacks.methods import ATTACK_METHODS, AttackMethod
from robustsweep.registry import integer, number


@ATTACK_METHODS.register("nst")
class NeuralStyleTransfer(AttackMethod):
    lr: float = number(
        0.1, exclusive_minimum=0, doc="SGD learning rate on the image (the authors' --adv-noise)"
    )
    steps: int = integer(10, minimum=1, doc="SGD steps (the authors' code: 10)")
    momentum: float = number(0.9, minimum=0, maximum=1, doc="SGD momentum (the authors': 0.9)")
    weight_decay: float = number(
        5e-4, minimum=0, doc="SGD weight decay on the image (the authors': 5e-4)"
    )

    def build(self, model, n_classes):
        return StyleTransferAttack(model, self.lr, self.steps, self.momentum, self.weight_decay)


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
