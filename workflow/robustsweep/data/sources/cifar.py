"""`cifar10`, `cifar100`: CIFAR through torchvision (tan2022, ho2024, xu2024).

torchvision checks every batch file's MD5 before it unpickles it, so only the official files
are ever deserialised. With `download: true` the archive is fetched into `root` the first time;
when the verified files are already there, no network is touched.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from robustsweep.data.sources import DATASET_SOURCES, DatasetSource, RawDataset
from robustsweep.input_errors import ConfigError, InputError
from robustsweep.registry import flag, text

ARCHIVES = {
    "cifar10": ("CIFAR-10", "cifar-10-batches-py", "cifar-10-python.tar.gz"),
    "cifar100": ("CIFAR-100", "cifar-100-python", "cifar-100-python.tar.gz"),
}
HOMEPAGE = "https://www.cs.toronto.edu/~kriz/cifar.html"


@DATASET_SOURCES.register("cifar10", "cifar100")
class CIFAR(DatasetSource):
    root: str = text("resources/cifar", doc="folder of the CIFAR files (downloaded into it)")
    download: bool = flag(
        True, doc="fetch CIFAR into root when it is not there (verified files are never re-fetched)"
    )

    def class_count(self) -> int:
        return 10 if self.name == "cifar10" else 100

    def has_official_test(self) -> bool:
        return True

    def _present(self) -> bool:
        _, folder, archive = ARCHIVES[self.name]
        root = Path(self.root)
        return (root / folder).is_dir() or (root / archive).is_file()

    def _fix(self) -> str:
        name, folder, archive = ARCHIVES[self.name]
        return (
            f"put {archive} from {HOMEPAGE} (or its extracted {folder}/ folder) into "
            f"'{self.root}' (config key 'dataset.root')"
        )

    def check(self, key, study) -> None:
        """Offline runs must have the files already; say which folder to fill before any job."""
        if not self.download and not self._present():
            name = ARCHIVES[self.name][0]
            raise ConfigError(
                f"{name} is not in '{self.root}' and 'dataset.download' is false; {self._fix()}"
            )

    def _torchvision_split(self, train: bool, download: bool):
        from torchvision import datasets

        dataset_class = datasets.CIFAR10 if self.name == "cifar10" else datasets.CIFAR100
        name = ARCHIVES[self.name][0]
        try:
            return dataset_class(self.root, train=train, download=download)
        except (OSError, ValueError) as error:  # URLError is an OSError: offline, DNS, refused
            raise InputError(f"could not download {name} ({error}); {self._fix()}") from error
        except RuntimeError as error:  # torchvision: "Dataset not found or corrupted"
            raise InputError(
                f"{name} files in '{self.root}' are missing or fail torchvision's checksum "
                f"check; delete them and rerun with 'dataset.download: true', or {self._fix()}"
            ) from error

    def load(self, image_size: int) -> RawDataset:
        """Official training set then official test set, with the test rows marked."""
        # the first call downloads if asked; both verify every file's MD5 before unpickling
        train = self._torchvision_split(True, self.download)
        test = self._torchvision_split(False, False)
        images = np.concatenate([train.data, test.data])
        labels = np.asarray(train.targets + test.targets, dtype=np.int64)
        official_test = np.arange(len(labels)) >= len(train.targets)
        return RawDataset(
            resize_images(images, image_size), labels, list(train.classes), official_test
        )


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """Antialiased bilinear resize of uint8 NHWC images (identity at CIFAR's own 32 px)."""
    if images.shape[1] == size:
        return images
    import torch

    batch = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    resized = torch.nn.functional.interpolate(
        batch, size=(size, size), mode="bilinear", antialias=True, align_corners=False
    )
    return resized.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
