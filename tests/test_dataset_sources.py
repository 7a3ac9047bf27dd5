"""Dataset sources read their real on-disk formats and refuse what they must refuse.

CIFAR: the tests write batches in CIFAR's pickled layout (dicts of `data` uint8 rows with the
three 32x32 colour planes in order, `labels` / `fine_labels`, and a meta file of class names)
and register their MD5s where torchvision keeps the official ones, so the same checksum path
that guards the real files runs here. Image folders: tiny JPEGs under WordNet-id folders.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
from PIL import Image
from torchvision import datasets

from robustsweep.data.prepared_dataset import load_class_names, load_split, prepare_dataset
from robustsweep.data.sources import class_count, load_source
from robustsweep.input_errors import ConfigError, InputError
from robustsweep.study_config import validate_config

LAYOUT = {  # source -> (class, folder, train files, test file, meta file, label key, names key)
    "cifar10": (
        datasets.CIFAR10,
        "cifar-10-batches-py",
        [f"data_batch_{i}" for i in range(1, 6)],
        "test_batch",
        "batches.meta",
        "labels",
        "label_names",
    ),
    "cifar100": (
        datasets.CIFAR100,
        "cifar-100-python",
        ["train"],
        "test",
        "meta",
        "fine_labels",
        "fine_label_names",
    ),
}
PER_FILE = 12


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def write_fake_cifar(root: Path, source: str, monkeypatch) -> dict[str, np.ndarray]:
    """Write CIFAR-format batches into root and make torchvision expect their checksums."""
    cls, folder, train_files, test_file, meta_file, label_key, names_key = LAYOUT[source]
    n_classes = 10 if source == "cifar10" else 100
    base = root / folder
    base.mkdir(parents=True)
    rng = np.random.default_rng(0)
    written = {"train": [], "test": [], "train_labels": [], "test_labels": []}
    for part, files in (("train", train_files), ("test", [test_file])):
        for name in files:
            rows = rng.integers(0, 256, size=(PER_FILE, 3 * 32 * 32), dtype=np.uint8)
            labels = (np.arange(PER_FILE) % n_classes).tolist()
            batch = {"batch_label": name, "data": rows, label_key: labels}
            (base / name).write_bytes(pickle.dumps(batch, protocol=2))
            written[part].append(rows)
            written[f"{part}_labels"] += labels
    names = [f"class_{i}" for i in range(n_classes)]
    (base / meta_file).write_bytes(pickle.dumps({names_key: names}, protocol=2))
    monkeypatch.setattr(cls, "train_list", [[f, _md5(base / f)] for f in train_files])
    monkeypatch.setattr(cls, "test_list", [[test_file, _md5(base / test_file)]])
    meta = dict(cls.meta, md5=_md5(base / meta_file))
    monkeypatch.setattr(cls, "meta", meta)
    return {key: np.concatenate(value) for key, value in written.items() if "labels" not in key}


def cifar_spec(root: Path, source: str = "cifar10", **changes) -> dict:
    spec = {
        "source": source,
        "root": str(root),
        "download": True,
        "image_size": 32,
        "splits": {"train": 0.75, "test": 0.2, "pool": 0.25},
    }
    return spec | changes


def no_network(*args, **kwargs):
    raise AssertionError("the network was touched although the files were there")


@pytest.mark.parametrize("source", ["cifar10", "cifar100"])
def test_cifar_batches_are_read_as_nhwc_pixels_with_official_test_rows(
    tmp_path, monkeypatch, source
):
    written = write_fake_cifar(tmp_path, source, monkeypatch)
    monkeypatch.setattr(datasets.cifar, "download_and_extract_archive", no_network)
    raw = load_source(cifar_spec(tmp_path, source))
    n_train = len(written["train"])
    assert raw.images.shape == (n_train + PER_FILE, 32, 32, 3)
    # the rows hold the red plane, then green, then blue, each 32x32 row-major
    first = written["train"][0].reshape(3, 32, 32).transpose(1, 2, 0)
    np.testing.assert_array_equal(raw.images[0], first)
    last = written["test"][-1].reshape(3, 32, 32).transpose(1, 2, 0)
    np.testing.assert_array_equal(raw.images[-1], last)
    assert raw.official_test.sum() == PER_FILE and raw.official_test[-PER_FILE:].all()
    assert raw.class_names[:2] == ["class_0", "class_1"]
    assert len(raw.class_names) == class_count({"source": source})


def test_cifar_keeps_the_official_test_set_and_splits_training_by_fraction(tmp_path, monkeypatch):
    write_fake_cifar(tmp_path, "cifar10", monkeypatch)
    out = tmp_path / "dataset.h5"
    prepare_dataset(out, cifar_spec(tmp_path), seed=0)
    test, train, pool = (load_split(out, name) for name in ("test", "train", "pool"))
    assert test.indices.tolist() == list(range(60, 72))  # the official test batch, whole
    assert sorted(train.indices.tolist() + pool.indices.tolist()) == list(range(60))
    per_class = np.bincount(np.concatenate([train.labels, pool.labels]))  # 10, 10, 5, 5, ...
    expected = np.round(0.75 * per_class)  # train : pool = 0.75 : 0.25 within each class
    np.testing.assert_array_equal(np.bincount(train.labels), expected)
    assert load_class_names(out)[0] == "class_0"


def test_cifar_resizes_when_asked(tmp_path, monkeypatch):
    write_fake_cifar(tmp_path, "cifar10", monkeypatch)
    raw = load_source(cifar_spec(tmp_path, image_size=16))
    assert raw.images.shape[1:] == (16, 16, 3) and raw.images.dtype == np.uint8
    full = load_source(cifar_spec(tmp_path))
    # antialiased downscaling low-pass filters: each image keeps its mean colour, and the
    # pixel noise of the random test images shrinks (no nearest-neighbour subsampling)
    # uint8 levels: antialiased resampling and rounding to levels shift a mean colour by at most a
    # few levels
    np.testing.assert_allclose(raw.images.mean((1, 2)), full.images.mean((1, 2)), atol=3.0)
    assert raw.images.std() < 0.8 * full.images.std()


def test_tampered_cifar_batch_is_refused_before_it_is_unpickled(tmp_path, monkeypatch):
    write_fake_cifar(tmp_path, "cifar10", monkeypatch)
    batch = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(batch.read_bytes()[:-1] + b"\x00")
    unpickled = []
    monkeypatch.setattr(datasets.cifar.pickle, "load", lambda *a, **k: unpickled.append(a))
    with pytest.raises(InputError) as caught:
        load_source(cifar_spec(tmp_path, download=False))
    assert unpickled == []
    expected = datasets.CIFAR10.train_list[2][1]
    assert str(caught.value) == (
        f"CIFAR-10: {batch} has MD5 {_md5(batch)}, expected {expected} (torchvision's list), "
        f"checked before anything is unpickled; delete '{batch.parent}' and rerun (with "
        "'dataset.download: true'), or put cifar-10-python.tar.gz from "
        "https://www.cs.toronto.edu/~kriz/cifar.html (or its extracted cifar-10-batches-py/ "
        f"folder) into '{tmp_path}' (config key 'dataset.root')"
    )


def write_fake_archive(root: Path, monkeypatch) -> Path:
    """Fake CIFAR-10 batches packed as cifar-10-python.tar.gz in root (the folder removed),
    with torchvision expecting the archive's MD5 as well as the batches'."""
    import shutil
    import tarfile

    staging = root / "staging"
    write_fake_cifar(staging, "cifar10", monkeypatch)
    archive = root / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(staging / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    shutil.rmtree(staging)
    monkeypatch.setattr(datasets.CIFAR10, "tgz_md5", _md5(archive))
    return archive


@pytest.mark.parametrize("download", [False, True])
def test_a_cifar_archive_in_root_is_extracted_without_network(tmp_path, monkeypatch, download):
    """With download: false torchvision never extracted it, contrary to what the README said;
    with download: true it goes through torchvision's download path, which would fetch."""
    write_fake_archive(tmp_path, monkeypatch)
    monkeypatch.setattr(datasets.cifar, "download_and_extract_archive", no_network)
    monkeypatch.setattr(datasets.utils, "download_url", no_network)
    raw = load_source(cifar_spec(tmp_path, download=download))
    assert raw.images.shape == (6 * PER_FILE, 32, 32, 3)


@pytest.mark.parametrize("download", [False, True])
def test_a_corrupt_cifar_archive_is_named_with_both_checksums(tmp_path, monkeypatch, download):
    """It used to read 'missing or fails torchvision's checksum check ... put it into <root>'
    while the archive was there."""
    archive = write_fake_archive(tmp_path, monkeypatch)
    expected = datasets.CIFAR10.tgz_md5
    archive.write_bytes(archive.read_bytes()[:-100])  # a download cut short
    monkeypatch.setattr(datasets.cifar, "download_and_extract_archive", no_network)
    with pytest.raises(InputError) as caught:
        load_source(cifar_spec(tmp_path, download=download))
    assert str(caught.value) == (
        f"{archive} has MD5 {_md5(archive)}, expected {expected} (torchvision's list): the "
        "download is corrupt or altered; delete it and rerun with 'dataset.download: true', or "
        "put a good copy from https://www.cs.toronto.edu/~kriz/cifar.html there"
    )
    assert not (tmp_path / "cifar-10-batches-py").exists()


def test_offline_cifar_download_names_the_folder_to_fill(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(datasets.cifar, "download_and_extract_archive", offline)
    with pytest.raises(InputError) as caught:
        load_source(cifar_spec(tmp_path / "resources"))
    message = str(caught.value)
    assert message.startswith("could not download CIFAR-10 (")
    assert "put cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html" in message
    assert f"into '{tmp_path / 'resources'}' (config key 'dataset.root')" in message


def study(dataset: dict) -> dict:
    return {
        "dataset": dataset,
        "models": {"cnn": {"architecture": "small_cnn"}},
        "attacks": {"surrogate": {"model": "cnn"}},
        "natural_adversarial": {"surrogate": {"model": "cnn"}},
        "experiments": {"e": {"models": ["cnn"], "train_classes": [2], "draws": [0]}},
    }


def test_offline_cifar_without_files_is_refused_before_any_job(tmp_path):
    config = study({"source": "cifar100", "root": str(tmp_path / "none"), "download": False})
    with pytest.raises(ConfigError) as caught:
        validate_config(config)
    assert str(caught.value) == (
        f"CIFAR-100 is not in '{tmp_path / 'none'}' and 'dataset.download' is false; put "
        "cifar-100-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html (or its "
        f"extracted cifar-100-python/ folder) into '{tmp_path / 'none'}' (config key "
        "'dataset.root')"
    )


def test_cifar_gets_its_default_folder():
    config = validate_config(study({"source": "cifar10"}))
    assert config["dataset"]["root"] == "resources/cifar"


WNIDS = ["n01440764", "n01443537", "n01484850"]


def write_image_folder(root: Path, wnids=WNIDS, per_class: int = 4) -> None:
    rng = np.random.default_rng(1)
    for label, wnid in enumerate(wnids):
        (root / wnid).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, size=(20 + i, 30, 3), dtype=np.uint8)
            pixels[..., 0] = 80 * label  # a class-constant red channel survives JPEG
            Image.fromarray(pixels).save(root / wnid / f"{wnid}_{i}.JPEG", quality=95)
    Image.fromarray(np.zeros((24, 24), np.uint8)).save(root / wnids[0] / "grey.jpg")


def test_image_folder_reads_wordnet_folders_in_sorted_order(tmp_path):
    write_image_folder(tmp_path / "imgs")
    spec = {"source": "imagefolder", "root": str(tmp_path / "imgs"), "image_size": 16}
    raw = load_source(spec)
    assert raw.class_names == WNIDS and raw.official_test is None
    assert raw.images.shape == (13, 16, 16, 3) and raw.images.dtype == np.uint8
    assert np.bincount(raw.labels).tolist() == [5, 4, 4]
    reds = [raw.images[raw.labels == k][..., 0].mean() for k in (1, 2)]
    # the red channel is exactly 80 * label before JPEG; chroma subsampling and quantisation of
    # the random green and blue channels move its mean by a few levels, well inside 12
    assert abs(reds[0] - 80) < 12 and abs(reds[1] - 160) < 12
    assert class_count(spec) == 3


def folder_error(tmp_path, **dataset) -> str:
    spec = {"source": "imagefolder", "root": str(tmp_path / "imgs")} | dataset
    config = study(spec)
    with pytest.raises(ConfigError) as caught:
        validate_config(config)
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_missing_dataset_folder_is_refused(tmp_path):
    assert folder_error(tmp_path) == (
        f"dataset folder '{tmp_path / 'imgs'}' (config key 'dataset.root') does not exist; "
        "point 'dataset.root' at a folder with one sub-folder of images per class"
    )


def test_folder_missing_listed_classes_is_refused(tmp_path):
    write_image_folder(tmp_path / "imgs", WNIDS[:2])
    assert folder_error(tmp_path, classes=WNIDS) == (
        f"dataset folder '{tmp_path / 'imgs'}' lacks 1 class folder(s) listed under "
        "'dataset.classes': n01484850; add them or remove them from the list"
    )


def test_folder_with_unlisted_classes_is_refused(tmp_path):
    write_image_folder(tmp_path / "imgs")
    assert folder_error(tmp_path, classes=WNIDS[:2]) == (
        f"dataset folder '{tmp_path / 'imgs'}' has 1 folder(s) not listed under "
        "'dataset.classes': n01484850; move them out or add them to the list"
    )


def test_empty_class_folder_is_refused(tmp_path):
    write_image_folder(tmp_path / "imgs")
    (tmp_path / "imgs" / "n09999999").mkdir()
    (tmp_path / "imgs" / "n09999999" / "notes.txt").write_text("")
    assert folder_error(tmp_path).startswith(
        f"class folder(s) n09999999 in '{tmp_path / 'imgs'}' hold no images (.jpg, .jpeg"
    )


def test_folder_source_needs_a_root_and_classes_need_a_folder_source(tmp_path):
    config = study({"source": "imagefolder"})
    with pytest.raises(ConfigError, match="config key 'dataset.root' is required \\(the tree"):
        validate_config(config)
    with pytest.raises(ConfigError, match="unknown config key 'classes' under 'dataset'"):
        validate_config(study({"source": "digits", "classes": ["a", "b"]}))


def test_class_pool_of_a_folder_bounds_n(tmp_path):
    write_image_folder(tmp_path / "imgs")
    config = study({"source": "imagefolder", "root": str(tmp_path / "imgs")})
    config["experiments"]["e"]["train_classes"] = [4]
    with pytest.raises(ConfigError, match=r"N=4, larger than the class pool \(3 classes of"):
        validate_config(config)


def test_imagenet_a_positions_map_in_order_to_its_folder_labels(tmp_path):
    from torchvision.datasets import ImageFolder

    from robustsweep.data.imagenet_classes import (
        imagenet_a_positions,
        imagenet_a_synsets,
        imagenet_synsets,
        lemmas,
    )

    synsets, a_synsets, positions = imagenet_synsets(), imagenet_a_synsets(), imagenet_a_positions()
    assert len(synsets) == len(set(synsets)) == 1000 and len(a_synsets) == len(positions) == 200
    assert list(positions) == sorted(positions)  # sorted ids give increasing logit positions
    # an ImageNet-A tree on disk: ImageFolder's label k is the class of logit positions[k]
    root = tmp_path / "imagenet-a"
    for wnid in reversed(a_synsets):  # creation order must not matter
        (root / wnid).mkdir(parents=True)
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(root / wnid / "0.jpg")
    folder = ImageFolder(str(root))
    for wnid, label in folder.class_to_idx.items():
        assert synsets[positions[label]] == wnid
    assert lemmas()["n01498041"] == "stingray" and lemmas()[synsets[0]] == "tench"


def test_named_class_list_checks_an_imagenet_a_tree(tmp_path):
    from robustsweep.data.imagenet_classes import imagenet_a_synsets

    root = tmp_path / "imgs"
    for wnid in imagenet_a_synsets()[:198]:
        (root / wnid).mkdir(parents=True)
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(root / wnid / "0.jpg")
    assert class_count({"source": "imagefolder", "root": str(root), "classes": "imagenet-a"}) == 200
    message = folder_error(tmp_path, classes="imagenet-a")
    assert "lacks 2 class folder(s)" in message and imagenet_a_synsets()[-1] in message


def test_images_in_a_class_subfolder_count_and_other_files_do_not(tmp_path):
    from robustsweep.data.sources.image_folder import _has_image

    folder = tmp_path / "n01440764"
    (folder / "notes").mkdir(parents=True)
    (folder / "notes" / "readme.txt").write_text("")
    (folder / "labels.csv").write_text("")
    assert not _has_image(folder)
    (folder / "deeper" / "more").mkdir(parents=True)
    (folder / "deeper" / "more" / "x.JPEG").touch()
    assert _has_image(folder)
