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

No library offers this attack (torchattacks has no style transfer), so it is written here
(attacks/style_transfer.py); tests/test_nst_attack.py checks it against the authors'
per-image loop written independently.
"""

from __future__ import annotations

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
        from robustsweep.attacks.style_transfer import StyleTransferAttack

        return StyleTransferAttack(model, self.lr, self.steps, self.momentum, self.weight_decay)
