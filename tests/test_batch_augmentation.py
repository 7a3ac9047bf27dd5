"""On-device augmentation. crop_flip: seeded, per image, and only ever a window of the padded
image. random_resized_crop: torchvision's RandomResizedCrop (its box distribution, its resize
of a box) and horizontal flip, drawn per image and seeded; stored images swapped into a batch
are augmented too."""

import pytest
import torch

from robustsweep.training.batch_augmentation import augment, crop_flip
from robustsweep.training.random_resized_crop import (
    draw_crops,
    fallback_box,
    random_resized_crop_flip,
    resized_crops,
)


def batch() -> torch.Tensor:
    return torch.randint(1, 256, (16, 3, 8, 8), generator=torch.Generator().manual_seed(0)).to(
        torch.uint8
    )


def test_same_generator_seed_gives_the_same_batch():
    images = batch()
    first = crop_flip(images, torch.Generator().manual_seed(5))
    again = crop_flip(images, torch.Generator().manual_seed(5))
    other = crop_flip(images, torch.Generator().manual_seed(6))
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert first.shape == images.shape and first.dtype == torch.uint8


def window(image: torch.Tensor, dy: int, dx: int, flip: bool) -> torch.Tensor:
    crop = image[:, dy : dy + 8, dx : dx + 8]
    return crop.flip(-1) if flip else crop


def test_every_output_is_a_window_of_the_padded_image_or_its_mirror():
    images = batch()
    out = crop_flip(images, torch.Generator().manual_seed(1), padding=2)
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2))
    shifts, flips = set(), 0
    for k in range(len(images)):
        matches = [
            (dy, dx, flip)
            for dy in range(5)
            for dx in range(5)
            for flip in (False, True)
            if torch.equal(out[k], window(padded[k], dy, dx, flip))
        ]
        assert len(matches) == 1, k
        shifts.add(matches[0][:2])
        flips += matches[0][2]
    assert len(shifts) > 4 and 2 <= flips <= 14  # drawn per image, not once per batch


def test_padding_shows_as_zeros_and_none_is_the_identity():
    images = batch()  # no zero pixels of its own
    out = crop_flip(images, torch.Generator().manual_seed(2), padding=4)
    zero_fraction = (out == 0).float().mean().item()
    assert 0 < zero_fraction < 0.5
    assert augment(images, "none", torch.Generator()) is images


# random_resized_crop: torchvision's RandomResizedCrop + RandomHorizontalFlip, per image


def tv_boxes(count: int, height: int, width: int, scale, ratio) -> torch.Tensor:
    """`count` boxes drawn by torchvision's own v2.RandomResizedCrop."""
    from torchvision.transforms import v2

    crop = v2.RandomResizedCrop((height, width), scale=scale, ratio=ratio)
    image = torch.zeros(3, height, width)
    torch.manual_seed(0)
    rows = []
    for _ in range(count):
        params = crop.make_params([image])
        rows.append([params["top"], params["left"], params["height"], params["width"]])
    return torch.tensor(rows)


def histogram_distance(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    """Total-variation distance between the value histograms of two integer samples."""
    size = int(max(ours.max(), theirs.max())) + 1
    p = torch.bincount(ours, minlength=size) / len(ours)
    q = torch.bincount(theirs, minlength=size) / len(theirs)
    return 0.5 * (p - q).abs().sum().item()


def test_boxes_follow_torchvisions_random_resized_crop_distribution():
    scale, ratio, count = (0.45, 1.0), (3 / 4, 4 / 3), 20_000
    ours, _ = draw_crops(count, 32, 32, scale, ratio, torch.Generator().manual_seed(1))
    theirs = tv_boxes(count, 32, 32, scale, ratio)
    # top, left, height, width: each marginal within sampling noise (about 0.015) of torchvision's
    for column in range(4):
        assert histogram_distance(ours[:, column], theirs[:, column]) < 0.035, column
    area = ours[:, 2] * ours[:, 3] / 1024
    assert area.min() > 0.4 and area.max() <= 1  # 0.45 of the area, up to rounding a side
    assert (ours[:, :2] + ours[:, 2:] <= 32).all() and (ours >= 0).all()
    # the comparison can fail: the default scale (0.08, 1) is another distribution
    wide, _ = draw_crops(count, 32, 32, (0.08, 1.0), ratio, torch.Generator().manual_seed(1))
    assert histogram_distance(wide[:, 2], theirs[:, 2]) > 0.2


@pytest.mark.parametrize(
    ("height", "width", "ratio"), [(8, 8, (2.0, 3.0)), (8, 16, (3 / 4, 4 / 3)), (16, 8, (1.0, 1.5))]
)
def test_no_fitting_try_falls_back_to_torchvisions_centred_box(height, width, ratio):
    # the whole area at an aspect ratio the image cannot hold: no try fits
    ours, _ = draw_crops(5, height, width, (1.0, 1.0), ratio, torch.Generator().manual_seed(0))
    theirs = tv_boxes(1, height, width, (1.0, 1.0), ratio)
    assert torch.equal(ours, theirs.expand(5, 4))
    assert fallback_box(8, 8, (2.0, 3.0)) == (4, 8)  # by hand: width 8, height 8 / 2


def uint8_images(count: int, height: int, width: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(3)
    return torch.randint(0, 256, (count, 3, height, width), generator=generator).to(torch.uint8)


def test_a_drawn_box_is_torchvisions_resized_crop_of_it_then_the_flip():
    from torchvision.transforms.v2 import functional as tvf

    images = uint8_images(24, 10, 14)
    boxes, flips = draw_crops(24, 10, 14, (0.3, 1.0), (0.5, 2.0), torch.Generator().manual_seed(2))
    assert boxes[:, 2].unique().numel() > 3  # boxes of several sizes, not one per batch
    out = resized_crops(images, boxes, flips)
    assert out.shape == images.shape and out.dtype == torch.uint8
    for k, (top, left, box_h, box_w) in enumerate(boxes.tolist()):
        expected = tvf.resized_crop(
            images[k].float(), top, left, box_h, box_w, [10, 14], antialias=True
        )
        if flips[k]:
            expected = tvf.horizontal_flip(expected)
        # ours rounds torchvision's float result to the nearest uint8
        assert (out[k].float() - expected).abs().max() <= 0.5 + 1e-3, k
        on_uint8 = tvf.resized_crop(images[k], top, left, box_h, box_w, [10, 14], antialias=True)
        on_uint8 = tvf.horizontal_flip(on_uint8) if flips[k] else on_uint8
        assert (out[k].int() - on_uint8.int()).abs().max() <= 1, k  # torchvision's uint8 path


def test_random_resized_crop_flips_half_the_images_and_is_seeded():
    images = uint8_images(16, 8, 8)
    first = random_resized_crop_flip(images, torch.Generator().manual_seed(5), (0.45, 1.0))
    again = random_resized_crop_flip(images, torch.Generator().manual_seed(5), (0.45, 1.0))
    other = random_resized_crop_flip(images, torch.Generator().manual_seed(6), (0.45, 1.0))
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert first.shape == images.shape and first.dtype == torch.uint8
    # the whole image as box: each output is the image or its mirror, mirrored half the time
    images = uint8_images(4000, 4, 4)
    out = random_resized_crop_flip(images, torch.Generator().manual_seed(7), (1.0, 1.0), (1, 1))
    same = (out == images).flatten(1).all(1)
    mirrored = (out == images.flip(-1)).flatten(1).all(1)
    assert (same | mirrored).all()
    assert abs(mirrored.float().mean().item() - 0.5) < 0.03  # 4000 draws: sd 0.008
    by_name = augment(images, "random_resized_crop", torch.Generator().manual_seed(8))
    default = random_resized_crop_flip(images, torch.Generator().manual_seed(8), (0.08, 1.0))
    assert torch.equal(by_name, default)  # torchvision's default scale and ratio


def test_stored_images_swapped_in_are_augmented_with_the_batch_generator():
    from robustsweep.training.batch_augmentation import BatchAugmentation
    from robustsweep.training.defences.offline_adversarial import StoreSampler

    stored = uint8_images(32, 8, 8)[None]  # one attack's store over 32 train images
    clean = torch.zeros(32, 3, 8, 8)
    positions = torch.arange(32)
    flip_only = BatchAugmentation("random_resized_crop", (1.0, 1.0), (1.0, 1.0))
    sampler = StoreSampler(stored, 1.0, augmentation=flip_only)
    mixed, swapped = sampler.mix(clean, positions, torch.Generator().manual_seed(0))
    assert swapped.all()
    as_stored = (mixed * 255).round().to(torch.uint8)
    mirrored = (as_stored == stored[0].flip(-1)).flatten(1).all(1)
    assert ((as_stored == stored[0]).flatten(1).all(1) | mirrored).all()
    assert 4 <= mirrored.sum() <= 28  # drawn per swapped image
    again, _ = sampler.mix(clean, positions, torch.Generator().manual_seed(0))
    plain, _ = StoreSampler(stored, 1.0).mix(clean, positions, torch.Generator().manual_seed(0))
    assert torch.equal(mixed, again) and torch.equal(plain * 255, stored[0].float())
