"""`imagefolder`: any class-per-folder image tree (ImageNet-style: one sub-folder per WordNet id).

`root/<class>/<image>`; the class names are the folder names in sorted order, as in
torchvision's ImageFolder. Keys of the config's `dataset` mapping for this source:
  root          the tree (ImageNet-1k's train folder, say)
  classes       the class folders root must hold, no more and no fewer (a list, or the named
                lists imagenet-1k / imagenet-a); without it, whatever folders there are
  test_root     optional second tree with the same classes kept whole as the test split (an
                official validation set); without it the test split comes from the fractions
  pool_classes  optional subset of the classes (a list or a named list) that the study uses:
                only their images are indexed, and N and M are drawn from them (zhu2025 draws
                from ImageNet-A's 200 of ImageNet's 1000)
  storage       files (default): a file index, pixels decoded on demand (image_files.py);
                pixels: the images resized into the prepared HDF5 (small trees only; needed
                for adversarial stores, which index pixels by row)
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from robustsweep.data.sources import DATASET_SOURCES, DatasetSource, IndexedDataset, RawDataset
from robustsweep.input_errors import ConfigError
from robustsweep.registry import REQUIRED, choice, mapping, text

# torchvision.datasets.folder.IMG_EXTENSIONS, repeated here so that validation before any job
# does not import torch (seconds per Snakemake start).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def _named_or_listed(classes) -> list[str] | None:
    if isinstance(classes, str):
        from robustsweep.data.imagenet_classes import named_class_list

        return named_class_list(classes)
    return classes


def class_folders(root: Path) -> list[str]:
    """Sub-folder names of root, sorted, hidden ones left out."""
    with os.scandir(root) as entries:
        return sorted(e.name for e in entries if e.is_dir() and not e.name.startswith("."))


def _has_image(folder: Path, seen: set[str] | None = None) -> bool:
    """Any image in the folder or below? Stops at the first one: validation runs at every
    Snakemake start, and an ImageNet class folder lists some 1,300 files (slow on NFS). A
    folder reached twice (a symlink loop) is not entered again."""
    seen = set() if seen is None else seen
    real = os.path.realpath(folder)
    if real in seen:
        return False
    seen.add(real)
    subfolders = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir():
                subfolders.append(entry.path)
            elif entry.name.lower().endswith(IMAGE_EXTENSIONS):
                return True
    return any(_has_image(Path(sub), seen) for sub in subfolders)


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


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


class LinkedImages:
    """Where each walked folder (by its real path) and each image link (by its target) sits,
    so that one image file reached twice is refused: a file symlink into another class's
    folder, or two links to one file, would store the same pixels under two labels, or twice
    under one (one copy in the test split, the other in the pool). Only links are resolved
    (a regular file is unique by its folder's real path), so an ImageNet-size tree costs one
    realpath per folder and per link, not per image."""

    def __init__(self) -> None:
        self.folders: dict[str, str] = {}  # real folder -> class
        self.links: list[tuple[str, str]] = []  # (link path, class)

    def add_folder(self, current: str, name: str) -> set[str]:
        """Record a walked folder; returns the names of its entries that are symlinks."""
        self.folders.setdefault(os.path.realpath(current), name)
        with os.scandir(current) as entries:
            return {entry.name for entry in entries if entry.is_symlink()}

    def check(self) -> None:
        """One line naming the first image link whose target is indexed under another path."""
        owners: dict[str, tuple[str, str]] = {}
        for link, name in self.links:
            target = os.path.realpath(link)
            folder_class = self.folders.get(os.path.dirname(target))
            if target in owners:
                other, other_class = owners[target]
            elif folder_class is not None:
                other, other_class = target, folder_class
            else:
                owners[target] = (link, name)
                continue
            same = other_class == name
            raise ConfigError(
                f"image '{link}' of class '{name}' is a link to {target}, which is also indexed "
                f"as '{other}' of {'the same class' if same else f'class {other_class!r}'}, so "
                + (
                    "it would count twice (one copy in the test split, say, the other in the pool)"
                    if same
                    else "the same pixels would carry two labels"
                )
                + "; remove the link (or replace it with a copy if it really is both)"
            )


def class_images(root: str, name: str, links: LinkedImages | None = None) -> list[str]:
    """The images under class folder `root/name`, in torchvision's make_dataset order (folders
    sorted, then files). Symlinked sub-folders are followed, as torchvision does, but one that
    leads back up the tree (a link to `.` or `..`), into another class's folder or to a folder
    already walked stops with one line naming the link: followed, it would label other
    classes' images, or the same images twice, as this class. Image links are recorded in
    `links` (checked once every class is walked)."""
    links = LinkedImages() if links is None else links
    folder = os.path.join(root, name)
    own = os.path.realpath(folder)
    seen = {own}
    found: list[tuple[str, list[str]]] = []
    for current, dirs, files in os.walk(folder, followlinks=True):
        images = sorted(f for f in files if f.lower().endswith(IMAGE_EXTENSIONS))
        found.append((current, images))
        linked = links.add_folder(current, name)
        links.links += [(os.path.join(current, f), name) for f in images if f in linked]
        here = os.path.realpath(current)
        for sub in dirs:
            link = os.path.join(current, sub)
            target = os.path.realpath(link)
            if _inside(here, target):
                problem = "leads back up the class tree (a loop)"
            elif _inside(target, root) and not _inside(target, own):
                problem = f"leads into another part of '{root}'"
            elif target in seen:
                problem = "leads to a folder already walked"
            else:
                seen.add(target)
                continue
            raise ConfigError(
                f"class folder '{name}' in '{root}': '{link}' {problem} ({target}), so its "
                f"images would be labelled '{name}'; remove the link or replace it with a "
                "folder of this class's own images"
            )
    return [os.path.join(current, file) for current, files in sorted(found) for file in files]


def _check_distinct_class_folders(root: str, names: list[str]) -> None:
    """No class folder is (a link to) another, or inside another: its images would carry
    both labels. Linked class folders are named first: they are the likely mistake."""
    real = {name: os.path.realpath(os.path.join(root, name)) for name in names}
    for name in sorted(names, key=lambda n: not os.path.islink(os.path.join(root, n))):
        for other in names:
            if other != name and _inside(real[name], real[other]):
                where = "the same folder as" if real[name] == real[other] else "inside"
                raise ConfigError(
                    f"class folder '{name}' in '{root}' ({real[name]}) is {where} class folder "
                    f"'{other}', so its images would carry both labels; replace it with a "
                    "folder of this class's own images"
                )


def image_paths(
    tree: Path | str, class_to_idx: dict[str, int], links: LinkedImages | None = None
) -> list[tuple[str, int]]:
    """(absolute path, label) of every image in the listed class folders of `tree`, in
    torchvision's ImageFolder order; the tree is resolved once, not every image path. Image
    links are checked at the end, or by the caller that passes `links` (several trees)."""
    root = str(Path(tree).resolve())
    _check_distinct_class_folders(root, sorted(class_to_idx))
    own_links = links is None
    links = LinkedImages() if links is None else links
    found = []
    for name in sorted(class_to_idx):
        images = class_images(root, name, links)
        if not images:
            raise ConfigError(
                f"class folder(s) {name} in '{root}' hold no images "
                f"({', '.join(IMAGE_EXTENSIONS)}); add images or remove the folder(s)"
            )
        found += [(path, class_to_idx[name]) for path in images]
    if own_links:
        links.check()
    return found


CLASS_LIST = {
    "oneOf": [
        {"type": "array", "items": {"type": "string"}, "minItems": 2, "uniqueItems": True},
        {"type": "string", "enum": ["imagenet-1k", "imagenet-a"]},
    ]
}


@DATASET_SOURCES.register("imagefolder")
class ImageFolder(DatasetSource):
    root: str = text(REQUIRED, doc="the tree: one sub-folder of images per class")
    classes: list[str] | str | None = mapping(
        None,
        schema={"anyOf": [CLASS_LIST, {"type": "null"}]},
        doc="the class folders root must hold, no more and no fewer: a list (e.g. WordNet ids) "
        "or a named list, imagenet-1k or imagenet-a (from timm's package data)",
    )
    pool_classes: list[str] | str | None = mapping(
        None,
        schema={"anyOf": [CLASS_LIST, {"type": "null"}]},
        doc="the classes the study draws N and M from (zhu2025: imagenet-a of imagenet-1k); "
        "only their images are indexed. Default: all classes",
    )
    test_root: str | None = mapping(
        None,
        schema={"type": ["string", "null"]},
        doc="a second tree with the same classes kept whole as the test split (ImageNet val)",
    )
    storage: str = choice(
        "files",
        ["files", "pixels"],
        doc="files: a file index, decoded on demand (ImageNet scale); pixels: images resized "
        "into the prepared HDF5 (small trees; needed for adversarial stores)",
    )
    named_classes = True

    def expected_classes(self) -> list[str] | None:
        """`classes` as a list: given, or a named list, or None (whatever folders there are)."""
        return _named_or_listed(self.classes)

    def class_names(self) -> list[str]:
        """The classes the study uses, sorted (their label order): `pool_classes`, else all."""
        pool = _named_or_listed(self.pool_classes)
        if pool is None:
            pool = self.expected_classes() or class_folders(Path(self.root))
        return sorted(pool)

    def has_official_test(self) -> bool:
        return self.test_root is not None

    def class_count(self) -> int:
        if self.pool_classes or self.expected_classes():
            return len(self.class_names())
        root = Path(self.root)
        return len(class_folders(root)) if root.is_dir() else 0

    def check(self, key, study) -> None:
        """Both trees hold exactly the configured classes, none empty; the pool is among them."""
        found = check_tree(Path(self.root), "dataset.root", self.expected_classes())
        if self.test_root is not None:
            expected = self.expected_classes() or found
            check_tree(Path(self.test_root), "dataset.test_root", expected)
        if self.pool_classes is not None:
            outside = sorted(set(self.class_names()) - set(found))
            if outside:
                raise ConfigError(
                    f"config key 'dataset.pool_classes' names {len(outside)} class(es) that "
                    f"'{self.root}' does not hold: {_listing(outside)}; pick pool classes "
                    "among the dataset's classes"
                )

    def index(self) -> IndexedDataset:
        """Paths and labels of the pool classes' images (root, then test_root if given), the
        class names in label order, and which rows are the official test set."""
        names = self.class_names()
        class_to_idx = {name: k for k, name in enumerate(names)}
        trees = [self.root, *([self.test_root] if self.test_root is not None else [])]
        links = LinkedImages()  # one image linked from both trees would leak into the test
        found = [image_paths(tree, class_to_idx, links) for tree in trees]
        links.check()
        paths = [path for part in found for path, _ in part]
        labels = np.asarray([label for part in found for _, label in part], dtype=np.int64)
        official_test = None
        if self.test_root is not None:
            official_test = np.arange(len(paths)) >= len(found[0])
        return IndexedDataset(paths, labels, names, official_test)

    def load(self, image_size: int) -> RawDataset:
        """Every image with the evaluation preprocessing at image_size, as uint8 NHWC."""
        from robustsweep.data.image_files import decode_images

        indexed = self.index()
        images = decode_images(indexed.paths, image_size)
        return RawDataset(images, indexed.labels, indexed.class_names, indexed.official_test)
