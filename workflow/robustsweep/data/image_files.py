"""Images read from files on demand: the pixels of file-index datasets (ImageNet-scale trees).

A file-index dataset (dataset_sources/image_folder.py, `storage: files`) keeps paths and labels,
never pixel copies. Pixels are decoded here, in DataLoader workers, with torchvision's
standard ImageNet preprocessing scaled to the configured size: resize the shorter side to
size * 256 / 224 and centre-crop `size` (256 and 224 at the usual 224), and for training the
reference recipe's augmentation (torchvision's classification references: random-resized crop
and horizontal flip). Batches stay uint8 (B, 3, H, W) until the training or evaluation device
scales them to [0, 1]; the models normalise inside (architectures.Normalized).

JPEGs (grey or colour) are decoded by torchvision.io: the same libjpeg-turbo as Pillow, so the
same pixels, at less overhead; the transforms run on the uint8 tensor (torchvision's v2, whose
antialiased bilinear resize has a vectorised uint8 path and differs from Pillow's by at most 1
grey level). Anything else (PNG, CMYK or 16-bit files, a JPEG torchvision refuses) goes through
Pillow. benchmarks/run_benchmarks.py row P12 measures this against bare loops. A training job
whose process already uses a GPU decodes its JPEGs there (nvJPEG, `device_decoder`): workers
then only read the bytes and draw each image's crop.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

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
    """Resize the shorter side, centre-crop `size`; uint8 CHW tensor in and out."""
    from torchvision.transforms import v2

    return v2.Compose([v2.Resize(resize_for(size), antialias=True), v2.CenterCrop(size)])


def train_transform(size: int, augmentation: str):
    """torchvision's reference training preset (random-resized crop, flip) or, for `none`,
    the evaluation preprocessing; uint8 CHW tensor in and out. The draws from torch's global
    generator are those of torchvision's v1 transforms (`crop_and_flip` repeats them)."""
    from torchvision.transforms import v2

    if augmentation == "none":
        return eval_transform(size)
    return v2.Compose([v2.RandomResizedCrop(size, antialias=True), v2.RandomHorizontalFlip()])


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
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise ImageFileError(f"image {path} cannot be decoded ({error}); {IMAGE_FIX}") from None


@cache
def jpeg_decoder():
    """torchvision.io's decode_jpeg, or None where this torchvision has none. torchvision
    0.29 deprecates its image codecs for TorchCodec's and warns at every call: that warning
    is silenced here (once per process); should they go, read_image falls back to Pillow."""
    import warnings

    warnings.filterwarnings(
        "ignore", "The image decoding and encoding capabilities of TorchVision", DeprecationWarning
    )
    try:
        from torchvision.io import decode_jpeg
    except ImportError:
        return None
    return decode_jpeg


def read_bytes(path: str) -> torch.Tensor:
    """The file's bytes as a uint8 tensor (what decode_jpeg takes)."""
    with open(path, "rb") as file:
        return torch.frombuffer(bytearray(file.read()), dtype=torch.uint8)


def read_image(path: str) -> torch.Tensor:
    """uint8 (3, H, W) RGB pixels of the file. A grey or colour JPEG is decoded by
    torchvision.io (libjpeg-turbo with Pillow's settings: the same pixels as rgb_image, at less
    overhead); anything else, or a JPEG it refuses (truncated, CMYK), goes through rgb_image,
    which converts it or names the problem."""
    decode_jpeg = jpeg_decoder()
    try:
        data = read_bytes(path)
        if decode_jpeg is not None and data[:2].tolist() == [0xFF, 0xD8]:  # start of image
            pixels = decode_jpeg(data)
            if pixels.shape[0] in (1, 3):  # grey or RGB; 4 is CMYK: Pillow's conversion
                return pixels.expand(3, -1, -1)
    except (OSError, RuntimeError):
        pass  # Pillow decides, and names the problem if there is one
    from torchvision.transforms.v2.functional import pil_to_tensor

    return pil_to_tensor(rgb_image(path))


IMAGE_FIX = "replace the file or move it out of the class folder, and rerun"


def decode_problem(path: str, size: int) -> str | None:
    """Why the image at `path` does not decode, or None. A JPEG is decoded at the smallest
    DCT scale that still covers `size` (Pillow's draft mode): every byte is read, so a
    truncated file is found, at a fraction of a full decode. A decompression bomb (a small
    file declaring more pixels than Pillow's limit) is refused by Pillow from its header, and
    named here like any other file that does not decode."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.draft("RGB", (size, size))
            image.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
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


@contextmanager
def seeded(seed: int | None):
    """Draws from torch's global generator seeded by `seed` (None: as they come), leaving
    the caller's generator state as it was. Only the CPU generator is seeded: torch.manual_seed
    would also queue a CUDA reseed, formatting a stack trace per image (about a fifth of a
    decode's time) and, where CUDA is initialised, resetting the training's CUDA generator."""
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        yield


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
        image = read_image(self.paths[row])
        with seeded(None if self.seed is None else self.seed + row):
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


Crop = tuple[int, int, int, int, bool]  # top, left, height, width, flip


def crop_and_flip(height: int, width: int) -> Crop:
    """train_transform's draws for an image of this size, without its pixels: the crop of
    torchvision's RandomResizedCrop (its default scale and ratio) and the flip's coin, in
    the order v2.Compose draws them."""
    from torchvision import transforms

    shape = torch.empty(1, dtype=torch.uint8).expand(3, height, width)  # no pixels
    top, left, h, w = transforms.RandomResizedCrop.get_params(shape, [0.08, 1.0], [3 / 4, 4 / 3])
    return top, left, h, w, bool(torch.rand(1) < 0.5)


class EncodedFiles(Dataset):
    """For decoding on a device: (JPEG bytes or, for what only Pillow reads, pixels; whether
    they are bytes; the image's crop, None for `none`; label; row). A worker reads the file
    and its header only; the crop is drawn as ImageFiles draws it (same seed per row)."""

    def __init__(self, paths: list[str], labels: np.ndarray, augmentation: str, seed: int):
        self.paths, self.labels, self.augmentation, self.seed = paths, labels, augmentation, seed

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, row: int):
        from PIL import Image

        path = self.paths[row]
        try:
            with Image.open(path) as image:  # the header only
                plain = image.format == "JPEG" and image.mode in ("RGB", "L")
                width, height = image.size
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            plain = False  # read_image names the problem
        payload = read_bytes(path) if plain else read_image(path)
        if not plain:
            height, width = payload.shape[1:]
        crop = None
        if self.augmentation != "none":
            with seeded(self.seed + row):
                crop = crop_and_flip(height, width)
        return payload, plain, crop, int(self.labels[row]), row


def collate_encoded(items: list) -> tuple[list, list, list, torch.Tensor, torch.Tensor]:
    """Variable-sized payloads stay a list; labels and rows become tensors."""
    payloads, plain, crops, labels, rows = zip(*items, strict=True)
    return list(payloads), list(plain), list(crops), torch.tensor(labels), torch.tensor(rows)


@cache
def _decodes_jpeg_on(device: torch.device) -> bool:
    """Whether torchvision's decode_jpeg runs on `device` (nvJPEG on a GPU): tried once."""
    if jpeg_decoder() is None:
        return False
    try:
        from torchvision.io import ImageReadMode, decode_jpeg, encode_jpeg

        probe = encode_jpeg(torch.zeros(3, 8, 8, dtype=torch.uint8))
        decode_jpeg([probe], mode=ImageReadMode.RGB, device=device)
    except (RuntimeError, TypeError, ValueError):
        return False
    return True


def device_decoder(device: torch.device | None) -> torch.device | None:
    """Where the training process decodes JPEGs itself, or None: DataLoader workers decode
    on the CPU. A GPU where torchvision decodes on it; with no device named, the GPU this
    process already uses (CUDA initialised: the model is there), else the workers. A CPU
    named explicitly takes the same path (what the tests run it on)."""
    if device is None:
        if not (torch.cuda.is_available() and torch.cuda.is_initialized()):
            return None
        device = torch.device("cuda", torch.cuda.current_device())
    return device if _decodes_jpeg_on(device) else None


def decode_on(
    device: torch.device, payloads: list, plain: list, crops: list, paths: list[str], size: int
) -> torch.Tensor:
    """The batch's pixels on `device`: its JPEGs decoded there in one call, each image then
    cropped and flipped (or given the evaluation preprocessing) there, as uint8."""
    from torchvision.io import ImageReadMode, decode_jpeg
    from torchvision.transforms.v2 import functional as F

    encoded = [payload for payload, bytes_ in zip(payloads, plain, strict=True) if bytes_]
    try:
        decoded = iter(
            decode_jpeg(encoded, mode=ImageReadMode.RGB, device=device) if encoded else []
        )
    except RuntimeError:  # one bad file fails the batch: decode each, naming the bad one
        decoded = iter(
            [read_image(path).to(device) for path, b in zip(paths, plain, strict=True) if b]
        )
    images = []
    for payload, bytes_, crop in zip(payloads, plain, crops, strict=True):
        image = next(decoded) if bytes_ else payload.to(device)
        if crop is None:
            images.append(eval_transform(size)(image))
            continue
        top, left, height, width, flip = crop
        image = F.resized_crop(image, top, left, height, width, [size, size], antialias=True)
        images.append(F.horizontal_flip(image) if flip else image)
    return torch.stack(images)


class ShareSampler:
    """Batches of `batch_size` of a permutation drawn from `generator` when iterated (after
    the DataLoader has drawn its base seed from it, as its RandomSampler draws), each cut to
    data-parallel rank `rank` of `size`'s share; a last batch smaller than `size` is left
    out. So every rank's loader draws what one process's does, and decodes only its share."""

    def __init__(self, count: int, batch_size: int, generator: torch.Generator, share):
        self.count, self.batch_size, self.generator = count, batch_size, generator
        self.rank, self.size = share

    def _batches(self, order: list[int]) -> list[list[int]]:
        from robustsweep.ranks import Ranks, share

        starts = range(0, len(order), self.batch_size)
        batches = [order[s : s + self.batch_size] for s in starts]
        place = Ranks(self.rank, self.size)
        return [batch[share(len(batch), place)] for batch in batches if len(batch) >= self.size]

    def __iter__(self) -> Iterator[list[int]]:
        yield from self._batches(torch.randperm(self.count, generator=self.generator).tolist())

    def __len__(self) -> int:
        return len(self._batches(list(range(self.count))))


def training_batches(
    paths: list[str],
    targets: np.ndarray,
    size: int,
    augmentation: str,
    batch_size: int,
    generator: torch.Generator,
    device: torch.device | None = None,
    share: tuple[int, int] | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """One epoch of (uint8 images, targets, rows) in an order drawn from `generator`.

    The augmentations are seeded per image from a seed drawn from the same generator, so an
    epoch is repeatable whatever the number of workers, including after a resume on another
    machine, and whether the JPEGs are decoded by the workers or on the device
    (`device_decoder`; the images then come on that device). With `share` (rank, number of
    data-parallel processes) the same global batches, each cut to that rank's share
    (`ShareSampler`)."""
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    decoder = device_decoder(device)
    if decoder is None:
        files = ImageFiles(paths, targets, train_transform(size, augmentation), seed)
    else:
        files = EncodedFiles(paths, targets, augmentation, seed)
    workers = loader_workers()
    if share is None:
        batches = {"batch_size": batch_size, "shuffle": True}
    else:
        batches = {"batch_sampler": ShareSampler(len(paths), batch_size, generator, share)}
    loader = DataLoader(
        files,
        **batches,
        generator=generator,
        num_workers=workers,
        persistent_workers=False,
        pin_memory=torch.cuda.is_available(),
        prefetch_factor=4 if workers else None,
        collate_fn=None if decoder is None else collate_encoded,
    )
    if decoder is None:
        yield from loader
        return
    for payloads, plain, crops, labels, rows in loader:
        batch_paths = [paths[row] for row in rows.tolist()]
        yield decode_on(decoder, payloads, plain, crops, batch_paths, size), labels, rows
