"""CIFAR-10 and CIFAR-100 through torchvision (seeds 001-003).

torchvision checks every batch file's MD5 before it unpickles it, so only the official files
are ever deserialised. With `download: true` the archive is fetched into `root` the first time;
when the verified files are already there, no network is touched.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from robustsweep.input_errors import ConfigError, InputError

ARCHIVES = {
    "cifar10": ("CIFAR-10", "cifar-10-batches-py", "cifar-10-python.tar.gz"),
    "cifar100": ("CIFAR-100", "cifar-100-python", "cifar-100-python.tar.gz"),
}
HOMEPAGE = "https://www.cs.toronto.edu/~kriz/cifar.html"


def class_count(spec: dict) -> int:
    return 10 if spec["source"] == "cifar10" else 100


def _present(spec: dict) -> bool:
    _, folder, archive = ARCHIVES[spec["source"]]
    root = Path(spec["root"])
    return (root / folder).is_dir() or (root / archive).is_file()


def _fix(spec: dict) -> str:
    name, folder, archive = ARCHIVES[spec["source"]]
    return (
        f"put {archive} from {HOMEPAGE} (or its extracted {folder}/ folder) into "
        f"'{spec['root']}' (config key 'dataset.root')"
    )


def check(spec: dict) -> None:
    """Offline runs must have the files already; say which folder to fill before any job."""
    if not spec["download"] and not _present(spec):
        name = ARCHIVES[spec["source"]][0]
        raise ConfigError(
            f"{name} is not in '{spec['root']}' and 'dataset.download' is false; {_fix(spec)}"
        )


def _torchvision_split(spec: dict, train: bool, download: bool):
    from torchvision import datasets

    dataset_class = datasets.CIFAR10 if spec["source"] == "cifar10" else datasets.CIFAR100
    name = ARCHIVES[spec["source"]][0]
    try:
        return dataset_class(spec["root"], train=train, download=download)
    except (OSError, ValueError) as error:  # URLError is an OSError: offline, DNS, refused
        raise InputError(f"could not download {name} ({error}); {_fix(spec)}") from error
    except RuntimeError as error:  # torchvision: "Dataset not found or corrupted"
        raise InputError(
            f"{name} files in '{spec['root']}' are missing or fail torchvision's checksum "
            f"check; delete them and rerun with 'dataset.download: true', or {_fix(spec)}"
        ) from error


def _resize(images: np.ndarray, size: int) -> np.ndarray:
    """Antialiased bilinear resize of uint8 NHWC images (identity at CIFAR's own 32 px)."""
    if images.shape[1] == size:
        return images
    import torch

    batch = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    resized = torch.nn.functional.interpolate(
        batch, size=(size, size), mode="bilinear", antialias=True, align_corners=False
    )
    return resized.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def load(spec: dict) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """Official training set then official test set, with the test rows marked."""
    # the first call downloads if asked; both verify every file's MD5 before unpickling
    train = _torchvision_split(spec, True, spec["download"])
    test = _torchvision_split(spec, False, False)
    images = np.concatenate([train.data, test.data])
    labels = np.asarray(train.targets + test.targets, dtype=np.int64)
    official_test = np.arange(len(labels)) >= len(train.targets)
    return _resize(images, spec["image_size"]), labels, list(train.classes), official_test
