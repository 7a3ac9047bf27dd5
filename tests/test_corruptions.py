"""Corrupted test sets: the CIFAR-10-C release read from small .npy files in its format, the
generated corruptions against the imagecorruptions package's own entry point, and the file
the logits cache scores."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from robustsweep.data.corruption_set import open_corruption_set, write_corruption_set
from robustsweep.data.corruptions import BENCHMARK, CORRUPTIONS
from robustsweep.data.corruptions.generated import corrupt_image, image_seed
from robustsweep.data.prepared_dataset import load_split, prepare_dataset
from robustsweep.input_errors import ConfigError, InputError
from robustsweep.registry import StudyFacts


def write_release(root: Path, labels: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    """A CIFAR-10-C-format release for a test set of len(labels) images: per corruption one
    uint8 (5 n, 32, 32, 3) file whose rows of severity s all hold s * 40 + (corruption no.),
    and labels.npy, the labels five times."""
    root.mkdir(parents=True, exist_ok=True)
    n, files = len(labels), {}
    np.save(root / "labels.npy", np.tile(labels, 5).astype(np.uint8))
    for k, name in enumerate(names):
        levels = np.repeat(np.arange(1, 6) * 40 + k, n).astype(np.uint8)
        files[name] = np.broadcast_to(levels[:, None, None, None], (5 * n, 32, 32, 3)).copy()
        np.save(root / f"{name}.npy", files[name])
    return files


@pytest.fixture
def cifar_dataset(tmp_path, monkeypatch) -> Path:
    """A prepared CIFAR-10 study dataset from CIFAR-format batches (12 official test images)."""
    from test_dataset_sources import cifar_spec, write_fake_cifar

    write_fake_cifar(tmp_path / "cifar", "cifar10", monkeypatch)
    spec = cifar_spec(tmp_path / "cifar", download=False)
    path = tmp_path / "dataset.h5"
    prepare_dataset(path, spec, seed=0)
    return path


def test_cifar_c_rows_are_severity_blocks_of_the_test_set(cifar_dataset, tmp_path):
    test = load_split(cifar_dataset, "test")
    names = ["gaussian_noise", "fog"]
    write_release(tmp_path / "CIFAR-10-C", test.labels, names)
    spec = {"source": "cifar_c", "root": str(tmp_path / "CIFAR-10-C"), "names": names}
    spec["severities"] = [2, 5]
    out = tmp_path / "corruptions.h5"
    write_corruption_set(out, cifar_dataset, spec, seed=0)
    n = len(test.labels)
    with h5py.File(out) as h5:
        data = open_corruption_set(h5)
        images = data.images[()]
    assert images.shape == (4 * n, 32, 32, 3)
    blocks = [("gaussian_noise", 2), ("gaussian_noise", 5), ("fog", 2), ("fog", 5)]
    for k, (name, severity) in enumerate(blocks):
        rows = slice(k * n, (k + 1) * n)
        assert (images[rows] == severity * 40 + names.index(name)).all()
        assert (data.corruption[rows] == name).all() and (data.severity[rows] == severity).all()
        np.testing.assert_array_equal(data.index[rows], test.indices)  # aligned with `clean`
        np.testing.assert_array_equal(data.labels[rows], test.labels)


def test_cifar_c_refuses_a_release_of_another_test_set(cifar_dataset, tmp_path):
    test = load_split(cifar_dataset, "test")
    write_release(tmp_path / "C", (test.labels + 1) % 10, ["fog"])
    spec = {"source": "cifar_c", "root": str(tmp_path / "C"), "names": ["fog"], "severities": [1]}
    with pytest.raises(InputError, match="labels.npy' does not match the study's test set"):
        write_corruption_set(tmp_path / "out.h5", cifar_dataset, spec, seed=0)
    np.save(tmp_path / "C" / "labels.npy", np.tile(test.labels, 5).astype(np.uint8))
    np.save(tmp_path / "C" / "fog.npy", np.zeros((5 * len(test.labels), 16, 16, 3), np.uint8))
    with pytest.raises(InputError, match="fog.npy: holds uint8 .* not the release's"):
        write_corruption_set(tmp_path / "out.h5", cifar_dataset, spec, seed=0)
    assert not (tmp_path / "out.h5").exists()  # nothing left looking complete


def test_cifar_c_config_names_the_missing_files_and_the_release(tmp_path):
    spec = {"source": "cifar_c", "root": str(tmp_path), "names": ["fog", "snow"]}
    with pytest.raises(ConfigError) as error:
        CORRUPTIONS.spec(dict(spec), "corruptions", StudyFacts(32, dataset="cifar10"))
    assert str(error.value) == (
        f"CIFAR-10-C file(s) labels.npy, fog.npy, snow.npy missing in '{tmp_path}' (config key "
        "'corruptions.root'); extract CIFAR-10-C.tar from https://zenodo.org/records/2535967 "
        "there"
    )
    with pytest.raises(ConfigError, match="needs dataset source cifar10 or cifar100, not 'dig"):
        CORRUPTIONS.spec(dict(spec), "corruptions", StudyFacts(32, dataset="digits"))


def test_generated_corruptions_call_the_package_as_its_own_corrupt_does():
    from imagecorruptions import corrupt

    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    for name in BENCHMARK:
        for severity in (1, 5):
            ours = corrupt_image(image, name, severity, 1234)
            np.random.seed(1234)
            extra = {"seed": 1234} if name in ("impulse_noise", "glass_blur") else {}
            reference = corrupt(image, severity=severity, corruption_name=name, **extra)
            np.testing.assert_array_equal(ours, reference, err_msg=f"{name} {severity}")


def test_generated_set_is_seeded_per_image_and_grows_with_severity(digits_h5, tmp_path):
    names = ["gaussian_noise", "contrast"]
    spec = {"source": "imagecorruptions", "names": names, "severities": [1, 3, 5]}
    one, two = tmp_path / "one.h5", tmp_path / "two.h5"
    write_corruption_set(one, digits_h5, spec, seed=0, threads=1)
    write_corruption_set(two, digits_h5, spec, seed=0, threads=2)  # two worker processes
    test = load_split(digits_h5, "test")
    with h5py.File(one) as a, h5py.File(two) as b:
        images = a["images"][()]
        np.testing.assert_array_equal(images, b["images"][()])
        data = open_corruption_set(a)
        severity, corruption = data.severity, data.corruption
    clean = np.tile(test.images, (6, 1, 1, 1)).astype(float)
    change = np.abs(images.astype(float) - clean).mean(axis=(1, 2, 3))
    for name in names:
        means = [change[(corruption == name) & (severity == s)].mean() for s in (1, 3, 5)]
        assert 0 < means[0] < means[1] < means[2], (name, means)
    # the per-image seed ignores chunking: one image corrupted alone matches the set
    k = 7
    alone = corrupt_image(
        test.images[k], "gaussian_noise", 3, image_seed(0, "gaussian_noise", 3, test.indices[k])
    )
    np.testing.assert_array_equal(alone, images[len(test.labels) + k])
