"""`detector`: ho2024's other reading, a binary real-vs-adversarial classifier.

Ho et al. 2024 (Sec. III-B) train "a classifier capable of distinguishing between 'real' and
'adversarial' images": each class folder of their hybrid CIFAR-10 holds the real images in "0"
and the adversarial ones in "1", and their precision and recall are TP/(TP+FP) and TP/(TP+FN)
of one positive class. Read that way, the model has two outputs (0 real, 1 adversarial, the
folders' names) and never sees the image's class. Each training batch holds the batch's clean
images (label real) and, for a `ratio` share of them, the stored adversarial version of the
same image (label adversarial) under one of `attacks` (drawn as `offline_adversarial` draws,
augmented as the recipe augments clean images): with ratio 1 every clean image and its
adversarial twin, the paper's paired 0/1 folders. The 10-class reading is `offline_adversarial`.

Not tan2022's `detector_head`, which trains a detector network beside a classifier: here the
run's model itself is the detector. Its weights card names the outputs (["real",
"adversarial"]), so the logits cache and evaluation score it as a binary classifier
(run_evaluation.detector_rows) and no class-label attack is run against it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from robustsweep.registry import number
from robustsweep.training.defences import DEFENCES
from robustsweep.training.defences.offline_adversarial import (
    OfflineAdversarialTrainer,
    StoreSampling,
)

if TYPE_CHECKING:
    import torch
    from torch import nn

DETECTOR_OUTPUTS = ("real", "adversarial")  # output k is folder "k" of the paper's dataset


@DEFENCES.register("detector")
class Detector(StoreSampling):
    ratio: float = number(
        1.0,
        minimum=0,
        maximum=1,
        doc="share of each batch's clean images whose stored adversarial version joins the "
        "batch (1: every image and its adversarial twin, the paper's paired 0/1 folders)",
    )
    output_names = DETECTOR_OUTPUTS

    def build(self, context) -> DetectorTrainer:
        return DetectorTrainer(self.sampler(context))


class DetectorTrainer(OfflineAdversarialTrainer):
    """The offline sampler's batches (same store draws), scored as real vs adversarial."""

    def loss(
        self,
        model: nn.Module,
        images: torch.Tensor,
        targets: torch.Tensor,
        positions: torch.Tensor,
        generator: torch.Generator,
    ):
        """Cross-entropy of real (0) vs adversarial (1) over the clean batch plus the drawn
        adversarial twins; the class targets are not used. Returns the binary targets too,
        which the training accuracy is scored against."""
        import torch
        from torch.nn.functional import cross_entropy

        mixed, swapped = self.sampler.mix(images, positions, generator)
        inputs = torch.cat([images, mixed[swapped]])
        truth = torch.cat(
            [
                torch.zeros(len(images), dtype=torch.long, device=images.device),
                torch.ones(int(swapped.sum()), dtype=torch.long, device=images.device),
            ]
        )
        logits = model(inputs)
        return cross_entropy(logits, truth), logits, truth
