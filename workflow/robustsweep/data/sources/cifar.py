"""`cifar10`, `cifar100`: CIFAR through torchvision (tan2022, ho2024, xu2024).

torchvision checks every batch file's MD5 before it unpickles it, so only the official files
are ever deserialised. An archive (cifar-10-python.tar.gz) already in `root` is checked
against torchvision's MD5 and extracted here, without network, whatever `download` says
(torchvision itself extracts only on its download path). With `download: true` and neither the
files nor the archive there, the archive is fetched into `root`. A file whose MD5 is wrong is
named with both checksums.
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

    def _dataset_class(self):
        from torchvision import datasets

        return datasets.CIFAR10 if self.name == "cifar10" else datasets.CIFAR100

    def _batch_files(self) -> list[tuple[Path, str]]:
        """(path, torchvision's MD5) of every file torchvision reads."""
        dataset_class = self._dataset_class()
        folder = Path(self.root) / dataset_class.base_folder
        listed = [*dataset_class.train_list, *dataset_class.test_list]
        listed.append((dataset_class.meta["filename"], dataset_class.meta["md5"]))
        return [(folder / name, md5) for name, md5 in listed]

    def _extract_archive(self) -> None:
        """Extract the archive in `root` when batch files are missing, once its MD5 is
        torchvision's (so it is the official archive, and nothing in it escapes `root`)."""
        dataset_class = self._dataset_class()
        archive = Path(self.root) / dataset_class.filename
        if all(path.is_file() for path, _ in self._batch_files()) or not archive.is_file():
            return
        actual = md5_of(archive)
        if actual != dataset_class.tgz_md5:
            raise InputError(
                f"{archive} has MD5 {actual}, expected {dataset_class.tgz_md5} (torchvision's "
                "list): the download is corrupt or altered; delete it and rerun with "
                f"'dataset.download: true', or put a good copy from {HOMEPAGE} there"
            )
        from torchvision.datasets.utils import extract_archive

        extract_archive(archive, self.root)

    def _bad_file(self) -> str:
        """Which file torchvision refused, and why, in a few words."""
        for path, expected in self._batch_files():
            if not path.is_file():
                return f"{path} is missing"
            actual = md5_of(path)
            if actual != expected:
                return f"{path} has MD5 {actual}, expected {expected} (torchvision's list)"
        return f"files in '{self.root}' fail torchvision's checks"

    def _torchvision_split(self, train: bool, download: bool):
        name = ARCHIVES[self.name][0]
        try:
            return self._dataset_class()(self.root, train=train, download=download)
        except (OSError, ValueError) as error:  # URLError is an OSError: offline, DNS, refused
            raise InputError(f"could not download {name} ({error}); {self._fix()}") from error
        except RuntimeError as error:  # torchvision: "Dataset not found or corrupted"
            raise InputError(
                f"{name}: {self._bad_file()}, checked before anything is unpickled; delete "
                f"'{Path(self.root) / self._dataset_class().base_folder}' and rerun (with "
                f"'dataset.download: true'), or {self._fix()}"
            ) from error

    def load(self, image_size: int) -> RawDataset:
        """Official training set then official test set, with the test rows marked."""
        # an archive in root is extracted without network; the first call downloads if asked
        # and nothing is there; both verify every file's MD5 before unpickling
        self._extract_archive()
        train = self._torchvision_split(True, self.download)
        test = self._torchvision_split(False, False)
        images = np.concatenate([train.data, test.data])
        labels = np.asarray(train.targets + test.targets, dtype=np.int64)
        official_test = np.arange(len(labels)) >= len(train.targets)
        return RawDataset(
            resize_images(images, image_size), labels, list(train.classes), official_test
        )


def md5_of(path: Path) -> str:
    """The file's MD5, as torchvision's lists give it (hashlib's, read in 1 MiB chunks)."""
    import hashlib

    digest = hashlib.md5()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


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
