"""`cifar_c`: the published CIFAR-10-C / CIFAR-100-C release (Hendrycks and Dietterich 2019;
Zenodo records 2535967 and 3555552), xu2024's corrupted test set.

The release is one `<corruption>.npy` per corruption, uint8 (50000, 32, 32, 3): the 10,000
test images in test-set order under severity 1, then severity 2, ..., 5 (rows
(s-1)*10000 .. s*10000 are severity s), and `labels.npy`, the test labels five times. The
block size is read as the study's test-set size, so a file of another size is refused. The
rows therefore line up with the official test set, which is the test split of a CIFAR study;
the labels are checked against it before anything is used. Its corruption constants are
Hendrycks' CIFAR ones (make_cifar_c.py), milder than ImageNet-C's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from robustsweep.data.corruptions import (
    BENCHMARK,
    CORRUPTIONS,
    EXTRA,
    CorruptedBlock,
    CorruptionSource,
    names_parameter,
    severities_parameter,
)
from robustsweep.input_errors import ConfigError, InputError
from robustsweep.registry import text

RELEASES = {
    "cifar10": ("CIFAR-10-C", "https://zenodo.org/records/2535967"),
    "cifar100": ("CIFAR-100-C", "https://zenodo.org/records/3555552"),
}
LEVELS = 5  # severities per file, in blocks of the whole test set
RELEASE_IMAGE = (32, 32, 3)


@CORRUPTIONS.register("cifar_c")
class CifarC(CorruptionSource):
    root: str = text(
        "resources/CIFAR-10-C",
        doc="folder of the release's .npy files (CIFAR-10-C.tar or CIFAR-100-C.tar extracted)",
    )
    names: list[str] = names_parameter(BENCHMARK + EXTRA)
    severities: list[int] = severities_parameter()

    def files(self) -> list[Path]:
        root = Path(self.root)
        return [root / "labels.npy", *(root / f"{name}.npy" for name in self.names)]

    def check(self, key, study):
        if study.dataset not in RELEASES:
            raise ConfigError(
                f"config key '{key}.source' is 'cifar_c', which needs dataset source cifar10 "
                f"or cifar100, not '{study.dataset}'; use source 'imagecorruptions' for it"
            )
        release, url = RELEASES[study.dataset]
        missing = [path.name for path in self.files() if not path.is_file()]
        if missing:
            raise ConfigError(
                f"{release} file(s) {', '.join(missing[:4])} missing in '{self.root}' (config "
                f"key '{key}.root'); extract {release}.tar from {url} there"
            )

    def blocks(self, test, seed, threads):
        n = len(test.labels)  # the release: 10,000 (the official test set)
        labels = _read(Path(self.root) / "labels.npy", (LEVELS * n,))
        if not np.array_equal(labels[:n].astype(np.int64), test.labels):
            raise InputError(
                f"'{self.root}/labels.npy' does not match the study's test set (the release's "
                "rows follow the official CIFAR test set: wrong release, or a CIFAR-100-C for "
                "a CIFAR-10 study?); point 'corruptions.root' at the release of its dataset"
            )
        size = test.images.shape[1]
        for name in self.names:
            images = _read(Path(self.root) / f"{name}.npy", (LEVELS * n, *RELEASE_IMAGE))
            for severity in self.severities:
                rows = np.asarray(images[(severity - 1) * n : severity * n])
                yield CorruptedBlock(name, severity, _at_size(rows, size))


def _read(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """A release file, memory-mapped, refused with one line unless it has the release's shape
    and uint8 type (np.load without pickles)."""
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as error:
        raise InputError(f"{path}: not a readable .npy file ({error}); download it again") from None
    if array.shape != shape or array.dtype != np.uint8:
        raise InputError(
            f"{path}: holds {array.dtype} {array.shape}, not the release's uint8 {shape}; "
            "download it again"
        )
    return array


def _at_size(images: np.ndarray, size: int) -> np.ndarray:
    from robustsweep.data.sources.cifar import resize_images

    return resize_images(images, size)
