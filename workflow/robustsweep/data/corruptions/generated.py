"""`imagecorruptions`: the 15 (+4) corruptions made for any dataset with the corruption
functions of Hendrycks and Dietterich 2019, packaged on PyPI as imagecorruptions (Michaelis et
al. 2019; the maintained fork imagecorruptions-imaug, since the original needs pkg_resources
and NumPy < 2).

Its constants are ImageNet-C's, harsher than CIFAR-10-C's (make_cifar_c.py): Gaussian noise
sigma .08-.38 against .04-.10, JPEG quality 25-7 against 80-40, so on CIFAR the same severity
is a stronger corruption than in the published CIFAR-10-C; use `cifar_c` to compare with
papers. The functions run on any image size (the package's own `corrupt()` refuses images
under 32 px; the functions it calls do not). Every image is corrupted with its own seed, drawn
from (study seed, corruption, severity, dataset row), so the set is the same on every machine
and with any number of worker processes.
"""

from __future__ import annotations

import numpy as np

from robustsweep.data.corruptions import (
    ALL_CORRUPTIONS,
    CORRUPTIONS,
    CorruptedBlock,
    CorruptionSource,
    names_parameter,
    severities_parameter,
)

# the functions that draw from a generator of their own and take its seed explicitly
OWN_SEED = ("impulse_noise", "glass_blur")


@CORRUPTIONS.register("imagecorruptions")
class GeneratedCorruptions(CorruptionSource):
    names: list[str] = names_parameter()
    severities: list[int] = severities_parameter()

    def blocks(self, test, seed, threads):
        for name in self.names:
            for severity in self.severities:
                jobs = [(name, severity, seed, chunk, rows) for chunk, rows in _chunks(test)]
                yield CorruptedBlock(name, severity, _run(jobs, threads))


def _chunks(test, size: int = 256):
    for start in range(0, len(test.labels), size):
        yield test.images[start : start + size], test.indices[start : start + size]


def _run(jobs: list, threads: int) -> np.ndarray:
    if threads > 1 and len(jobs) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(threads) as pool:
            parts = list(pool.map(_corrupt_chunk, jobs))
    else:
        parts = [_corrupt_chunk(job) for job in jobs]
    return np.concatenate(parts)


def image_seed(seed: int, name: str, severity: int, row: int) -> int:
    """The seed of one corrupted image, independent of chunking and worker count."""
    code = ALL_CORRUPTIONS.index(name)
    return int(np.random.SeedSequence([seed, code, severity, int(row)]).generate_state(1)[0])


def corrupt_image(image: np.ndarray, name: str, severity: int, image_seed: int) -> np.ndarray:
    """One uint8 (H, W, 3) image under one corruption, as the package's corrupt() does it
    (through a PIL image, rounded down to uint8), without its 32 px minimum."""
    from imagecorruptions import corruption_dict
    from PIL import Image

    np.random.seed(image_seed)  # the functions draw from NumPy's global generator
    extra = {"seed": image_seed} if name in OWN_SEED else {}
    out = corruption_dict[name](Image.fromarray(image), severity, **extra)
    return np.uint8(np.clip(out, 0, 255))


def _corrupt_chunk(job) -> np.ndarray:
    name, severity, seed, images, rows = job
    return np.stack(
        [
            corrupt_image(image, name, severity, image_seed(seed, name, severity, row))
            for image, row in zip(images, rows, strict=True)
        ]
    )
