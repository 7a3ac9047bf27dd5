"""tan2022's NST attack (attacks/methods/nst.py): the authors' per-image loop, batched, and an
attack worth the name on a trained model."""

from __future__ import annotations

import copy

import torch
from torch import nn

from robustsweep.attacks.methods import build_attack
from robustsweep.attacks.style_transfer import other_class_targets
from robustsweep.models.networks import feature_stages

NST = {"method": "nst", "lr": 0.1, "steps": 10}


def authors_nst(model, images, targets, lr=0.1, steps=10):
    """aisafe_adv_samples.py's NST loop, written independently: one image at a time, its own
    SGD (momentum 0.9, weight decay 5e-4), features from model.feature_list indices 1 and 4
    (here the first and last feature stage), clipped to [0, 1] once at the end."""
    stages = feature_stages(model)

    def feature_list(x):
        maps = []
        handles = [s.register_forward_hook(lambda m, i, o: maps.append(o)) for s in stages]
        model(x)
        for handle in handles:
            handle.remove()
        return maps[0], maps[-1]

    out = images.clone()
    for i in range(len(images)):
        style_y, content_y = (f.detach() for f in feature_list(targets[i : i + 1]))
        x = nn.Parameter(images[i : i + 1].clone())
        optimizer = torch.optim.SGD([x], lr=lr, momentum=0.9, weight_decay=5e-4)
        for _ in range(steps):
            style, content = feature_list(x)
            loss = torch.mean(torch.square(style - style_y)) + torch.mean(
                torch.square(content - content_y)
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        out[i] = x.detach()[0]
    return out.clamp(0, 1)


def test_targets_are_images_of_another_class_and_a_lone_class_keeps_itself():
    labels = torch.tensor([0, 0, 1, 2, 2, 1])
    generator = torch.Generator().manual_seed(0)
    for _ in range(20):
        targets = other_class_targets(labels, generator)
        assert (labels[targets] != labels).all()
    assert other_class_targets(torch.tensor([3, 3, 3])).tolist() == [0, 1, 2]


def test_batched_nst_is_the_authors_per_image_loop(attack_batch):
    model, images, labels = attack_batch
    model = copy.deepcopy(model).double().eval()
    images, labels = images[:6].double(), labels[:6]
    torch.manual_seed(3)
    ours = build_attack(model, NST, 10)(images, labels)
    torch.manual_seed(3)  # the same target draw
    targets = other_class_targets(labels)
    reference = authors_nst(model, images, images[targets])
    # float64 on both sides from identical inputs: rounding size
    assert torch.allclose(ours, reference, atol=1e-9, rtol=0)


def test_nst_fools_a_trained_model_more_often_than_noise_of_the_same_l2_norm(attack_batch):
    model, images, labels = attack_batch
    torch.manual_seed(0)
    adversarial = build_attack(model, NST, 10)(images, labels)
    assert adversarial.min() >= 0 and adversarial.max() <= 1
    delta = adversarial - images
    norms = delta.flatten(1).norm(dim=1)
    assert (norms > 0).all(), "every image changed"
    noise = torch.randn(images.shape, generator=torch.Generator().manual_seed(1))
    noise *= (norms / noise.flatten(1).norm(dim=1)).view(-1, 1, 1, 1)
    noisy = (images + noise).clamp(0, 1)
    with torch.no_grad():
        fooled_nst = (model(adversarial).argmax(1) != labels).float().mean().item()
        fooled_noise = (model(noisy).argmax(1) != labels).float().mean().item()
    # 96 images: a binomial standard error of at most 0.05 per share, so a 0.2 gap is 4 of
    # them, far from chance
    assert fooled_nst > fooled_noise + 0.2
