"""Images read from files on demand: the pixels of file-index datasets (ImageNet-scale trees).

A file-index dataset (dataset_sources/image_folder.py, `storage: files`) keeps paths and labels,
never pixel copies. Pixels are decoded here, in DataLoader workers, with torchvision's
standard ImageNet preprocessing scaled to the configured size: resize the shorter side to
size * 256 / 224 and centre-crop `size` (256 and 224 at the usual 224), and for training the
reference recipe's augmentation (torchvision's classification references: random-resized crop
and horizontal flip). Batches stay uint8 (B, 3, H, W) until the training or evaluation device
scales them to [0, 1]; the models normalise inside (architectures.Normalized).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from robustsweep.input_errors import ImageFileError

# the training augmentations of file-index datasets (`training.augmentation`)
FILE_AUGMENTATIONS = ("none", "imagenet")


def resize_for(size: int) -> int:
    """The shorter side before the centre crop: 256 for 224, in proportion otherwise."""
    return round(size * 256 / 224)


def eval_transform(size: int):
    """Resize the shorter side, centre-crop `size`, uint8 CHW tensor."""
    from torchvision import transforms

    return transforms.Compose(
        [
            transforms.Resize(resize_for(size), antialias=True),
            transforms.CenterCrop(size),
            transforms.PILToTensor(),
        ]
    )


def train_transform(size: int, augmentation: str):
    """torchvision's reference training preset (random-resized crop, flip) or, for `none`,
    the evaluation preprocessing."""
    from torchvision import transforms

    if augmentation == "none":
        return eval_transform(size)
    return transforms.Compose(
        [
            transforms.RandomResizedCrop(size, antialias=True),
            transforms.RandomHorizontalFlip(),
            transforms.PILToTensor(),
        ]
    )


# integer modes Pillow opens 16-bit images in (PNG, TIFF, PGM); convert("RGB") would clip
# them at 255, turning most of a 16-bit image white
WIDE_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def _eight_bit(image):
    """A 16-bit greyscale image scaled to 8 bits (0..65535 -> 0..255, rounded); values of a
    32-bit integer image are read on the same 16-bit scale and clipped to it."""
    from PIL import Image

    wide = np.asarray(image, dtype=np.int64).clip(0, 65535)
    return Image.fromarray(((wide * 255 + 32767) // 65535).astype(np.uint8), mode="L")


def rgb_image(path: str):
    """PIL image in RGB (grey and CMYK JPEGs exist in ImageNet; 16-bit grey is scaled, not
    clipped); a file that does not decode raises ImageFileError naming it."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            if image.mode in WIDE_MODES:
                return _eight_bit(image).convert("RGB")
            return image.convert("RGB")
    except (OSError, ValueError, SyntaxError) as error:
        raise ImageFileError(f"image {path} cannot be decoded ({error}); {IMAGE_FIX}") from None


IMAGE_FIX = "replace the file or move it out of the class folder, and rerun"


def decode_problem(path: str, size: int) -> str | None:
    """Why the image at `path` does not decode, or None. A JPEG is decoded at the smallest
    DCT scale that still covers `size` (Pillow's draft mode): every byte is read, so a
    truncated file is found, at a fraction of a full decode."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.draft("RGB", (size, size))
            image.load()
    except (OSError, ValueError, SyntaxError) as error:
        return str(error) or type(error).__name__
    return None


def check_images(paths: list[str], size: int, threads: int = 1) -> None:
    """Decode every image once (threads: Pillow's decoders release the GIL) and stop at the
    first that does not decode, naming it and counting the others."""
    from concurrent.futures import ThreadPoolExecutor

    from tqdm import tqdm

    with ThreadPoolExecutor(max(1, threads)) as pool:
        problems = list(
            tqdm(
                pool.map(decode_problem, paths, [size] * len(paths)),
                total=len(paths),
                desc="check images",
                mininterval=10,
            )
        )
    bad = [(path, problem) for path, problem in zip(paths, problems, strict=True) if problem]
    if bad:
        path, problem = bad[0]
        others = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise ImageFileError(f"image {path} cannot be decoded ({problem}){others}; {IMAGE_FIX}")


class ImageFiles(Dataset):
    """(uint8 CHW image, label, row) for each path; `row` says which item it was.

    With `seed`, each item's random transform draws from its own generator state, seeded by
    (seed, row): the same augmentation whether the item is decoded in the main process or in
    any of any number of workers, and the caller's global RNG is left as it was."""

    def __init__(self, paths: list[str], labels: np.ndarray, transform, seed: int | None = None):
        self.paths, self.labels, self.transform, self.seed = paths, labels, transform, seed

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, row: int) -> tuple[torch.Tensor, int, int]:
        image = rgb_image(self.paths[row])
        if self.seed is None:
            return self.transform(image), int(self.labels[row]), row
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed + row)
            return self.transform(image), int(self.labels[row]), row


def loader_workers() -> int:
    """DataLoader workers: the job's cores (configure_threads) when it has more than one;
    a single-core job decodes in its own process rather than pay for a worker."""
    threads = torch.get_num_threads()
    return threads if threads > 1 else 0


def decode_images(paths: list[str], size: int, batch_size: int = 256) -> np.ndarray:
    """Every image with the evaluation preprocessing, as uint8 (n, size, size, 3)."""
    from tqdm import tqdm

    images = np.empty((len(paths), size, size, 3), np.uint8)
    files = ImageFiles(paths, np.zeros(len(paths), np.int64), eval_transform(size))
    loader = DataLoader(files, batch_size=batch_size, num_workers=loader_workers())
    for batch, _labels, rows in tqdm(loader, desc="decode images", mininterval=10):
        images[rows.numpy()] = batch.permute(0, 2, 3, 1).numpy()
    return images


def training_batches(
    paths: list[str],
    targets: np.ndarray,
    size: int,
    augmentation: str,
    batch_size: int,
    generator: torch.Generator,
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """One epoch of (uint8 images, targets, rows) in an order drawn from `generator`.

    The augmentations are seeded per image from a seed drawn from the same generator, so an
    epoch is repeatable whatever the number of workers, including after a resume on another
    machine."""
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    files = ImageFiles(paths, targets, train_transform(size, augmentation), seed)
    workers = loader_workers()
    yield from DataLoader(
        files,
        batch_size=batch_size,
        shuffle=True,
        generator=generator,
        num_workers=workers,
        persistent_workers=False,
        pin_memory=torch.cuda.is_available(),
        prefetch_factor=4 if workers else None,
    )
