"""On-device crop-and-flip: seeded, per image, and only ever a window of the padded image."""

import torch

from robustsweep.training.batch_augmentation import augment, crop_flip


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
