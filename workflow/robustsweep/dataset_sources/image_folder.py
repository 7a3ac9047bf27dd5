"""Any class-per-folder image tree (ImageNet-style: one sub-folder per WordNet id).

`root/<class>/<image>`; the class names are the folder names in sorted order, as in
torchvision's ImageFolder. Keys of the config's `dataset` mapping for this source:
  root          the tree (ImageNet-1k's train folder, say)
  classes       the class folders root must hold, no more and no fewer (a list, or the named
                lists imagenet-1k / imagenet-a); without it, whatever folders there are
  test_root     optional second tree with the same classes kept whole as the test split (an
                official validation set); without it the test split comes from the fractions
  pool_classes  optional subset of the classes (a list or a named list) that the study uses:
                only their images are indexed, and N and M are drawn from them (seed 000 draws
                from ImageNet-A's 200 of ImageNet's 1000)
  storage       files (default): a file index, pixels decoded on demand (image_files.py);
                pixels: the images resized into the prepared HDF5 (small trees only; needed
                for adversarial stores, which index pixels by row)
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


def _named_or_listed(classes) -> list[str] | None:
    if isinstance(classes, str):
        from robustsweep.imagenet_classes import named_class_list

        return named_class_list(classes)
    return classes


def expected_classes(spec: dict) -> list[str] | None:
    """`dataset.classes` as a list: given explicitly, or a named list ('imagenet-1k',
    'imagenet-a', from imagenet_classes.py), or None (whatever folders there are)."""
    return _named_or_listed(spec.get("classes"))


def pool_classes(spec: dict) -> list[str]:
    """The classes the study uses, sorted (their label order): `pool_classes`, else all."""
    pool = _named_or_listed(spec.get("pool_classes"))
    if pool is None:
        pool = expected_classes(spec) or class_folders(_root(spec))
    return sorted(pool)


def class_folders(root: Path) -> list[str]:
    """Sub-folder names of root, sorted, hidden ones left out."""
    with os.scandir(root) as entries:
        return sorted(e.name for e in entries if e.is_dir() and not e.name.startswith("."))


def _has_image(folder: Path) -> bool:
    """Any image in the folder or below? Stops at the first one: validation runs at every
    Snakemake start, and an ImageNet class folder lists some 1,300 files (slow on NFS)."""
    subfolders = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir():
                subfolders.append(entry.path)
            elif entry.name.lower().endswith(IMAGE_EXTENSIONS):
                return True
    return any(_has_image(Path(sub)) for sub in subfolders)


def _listing(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def check_tree(root: Path, key: str, expected: list[str] | None) -> list[str]:
    """The folder at config key `key` exists, holds exactly `expected` (when given) and no
    empty class; returns its class folders. One line per problem, naming what is missing."""
    if not root.is_dir():
        raise ConfigError(
            f"dataset folder '{root}' (config key '{key}') does not exist; point "
            f"'{key}' at a folder with one sub-folder of images per class"
        )
    found = class_folders(root)
    if not found:
        raise ConfigError(
            f"dataset folder '{root}' has no class sub-folders; it needs one sub-folder of "
            "images per class (root/<class>/<image>.jpg)"
        )
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
    return found


def check(spec: dict) -> None:
    """Both trees hold exactly the configured classes, none empty; the pool is among them."""
    found = check_tree(_root(spec), "dataset.root", expected_classes(spec))
    if "test_root" in spec:
        check_tree(Path(spec["test_root"]), "dataset.test_root", expected_classes(spec) or found)
    if "pool_classes" in spec:
        outside = sorted(set(pool_classes(spec)) - set(found))
        if outside:
            raise ConfigError(
                f"config key 'dataset.pool_classes' names {len(outside)} class(es) that "
                f"'{_root(spec)}' does not hold: {_listing(outside)}; pick pool classes among "
                "the dataset's classes"
            )


def class_count(spec: dict) -> int:
    if spec.get("pool_classes") or expected_classes(spec):
        return len(pool_classes(spec))
    root = _root(spec)
    return len(class_folders(root)) if root.is_dir() else 0


def image_paths(tree: Path | str, class_to_idx: dict[str, int]) -> list[tuple[str, int]]:
    """(absolute path, label) of every image in the listed class folders of `tree`, in
    torchvision's ImageFolder order; the tree is resolved once, not every image path."""
    from torchvision.datasets.folder import make_dataset

    return make_dataset(str(Path(tree).resolve()), class_to_idx, IMAGE_EXTENSIONS)


def index(spec: dict) -> tuple[list[str], np.ndarray, list[str], np.ndarray | None]:
    """Paths and labels of the pool classes' images (root, then test_root if given), the
    class names in label order, and which rows are the official test set."""
    names = pool_classes(spec)
    class_to_idx = {name: k for k, name in enumerate(names)}
    trees = [spec["root"], *([spec["test_root"]] if "test_root" in spec else [])]
    found = [image_paths(tree, class_to_idx) for tree in trees]
    paths = [path for part in found for path, _ in part]
    labels = np.asarray([label for part in found for _, label in part], dtype=np.int64)
    official_test = None
    if "test_root" in spec:
        official_test = np.arange(len(paths)) >= len(found[0])
    return paths, labels, names, official_test


def load(spec: dict) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray | None]:
    """Every image with the evaluation preprocessing at image_size, as uint8 NHWC."""
    from robustsweep.image_files import decode_images

    paths, labels, names, official_test = index(spec)
    return decode_images(paths, spec["image_size"]), labels, names, official_test
