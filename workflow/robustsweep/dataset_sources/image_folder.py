"""Any class-per-folder image tree (ImageNet-style: one sub-folder per WordNet id).

`root/<class>/<image>`; the class names are the folder names in sorted order, as in
torchvision's ImageFolder, which reads the pixels. The images are resized (shorter side) and
centre-cropped to `image_size` and kept as uint8, so this suits trees of up to some tens of
thousands of images; there is no official test set, so the splits come from the fractions.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from robustsweep.input_errors import ConfigError

# torchvision.datasets.folder.IMG_EXTENSIONS, repeated here so that validation before any job
# does not import torch (seconds per Snakemake start).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def _root(spec: dict) -> Path:
    return Path(spec["root"])


def expected_classes(spec: dict) -> list[str] | None:
    """`dataset.classes` as a list: given explicitly, or a named list ('imagenet-1k',
    'imagenet-a', from imagenet_classes.py), or None (whatever folders there are)."""
    classes = spec.get("classes")
    if isinstance(classes, str):
        from robustsweep.imagenet_classes import named_class_list

        return named_class_list(classes)
    return classes


def class_folders(root: Path) -> list[str]:
    """Sub-folder names of root, sorted, hidden ones left out."""
    with os.scandir(root) as entries:
        return sorted(e.name for e in entries if e.is_dir() and not e.name.startswith("."))


def _has_image(folder: Path) -> bool:
    for _dirpath, _dirs, files in os.walk(folder):
        if any(name.lower().endswith(IMAGE_EXTENSIONS) for name in files):
            return True
    return False


def _listing(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def check(spec: dict) -> None:
    """The folder exists, holds exactly the configured classes, and no class is empty."""
    root = _root(spec)
    if not root.is_dir():
        raise ConfigError(
            f"dataset folder '{root}' (config key 'dataset.root') does not exist; point "
            "'dataset.root' at a folder with one sub-folder of images per class"
        )
    found = class_folders(root)
    if not found:
        raise ConfigError(
            f"dataset folder '{root}' has no class sub-folders; it needs one sub-folder of "
            "images per class (root/<class>/<image>.jpg)"
        )
    expected = expected_classes(spec)
    if expected:
        missing = sorted(set(expected) - set(found))
        if missing:
            raise ConfigError(
                f"dataset folder '{root}' lacks {len(missing)} class folder(s) listed under "
                f"'dataset.classes': {_listing(missing)}; add them or remove them from the list"
            )
        extra = sorted(set(found) - set(expected))
        if extra:
            raise ConfigError(
                f"dataset folder '{root}' has {len(extra)} folder(s) not listed under "
                f"'dataset.classes': {_listing(extra)}; move them out or add them to the list"
            )
    empty = [name for name in found if not _has_image(root / name)]
    if empty:
        raise ConfigError(
            f"class folder(s) {_listing(empty)} in '{root}' hold no images "
            f"({', '.join(IMAGE_EXTENSIONS)}); add images or remove the folder(s)"
        )


def class_count(spec: dict) -> int:
    if expected := expected_classes(spec):
        return len(expected)
    root = _root(spec)
    return len(class_folders(root)) if root.is_dir() else 0


def load(spec: dict) -> tuple[np.ndarray, np.ndarray, list[str], None]:
    """Every image, resized and centre-cropped to image_size, as uint8 NHWC."""
    from torchvision import datasets, transforms
    from tqdm import tqdm

    size = spec["image_size"]
    crop = transforms.Compose([transforms.Resize(size), transforms.CenterCrop(size)])
    folder = datasets.ImageFolder(str(_root(spec)), loader=_rgb_image, transform=crop)
    images = np.empty((len(folder), size, size, 3), dtype=np.uint8)
    for row, (image, _label) in enumerate(tqdm(folder, desc="read images", mininterval=10)):
        images[row] = np.asarray(image, dtype=np.uint8)
    labels = np.asarray(folder.targets, dtype=np.int64)
    return images, labels, list(folder.classes), None


def _rgb_image(path: str):
    """PIL image in RGB (grey and CMYK JPEGs exist in ImageNet)."""
    from PIL import Image

    with Image.open(path) as image:
        return image.convert("RGB")
