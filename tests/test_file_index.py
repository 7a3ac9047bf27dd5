"""File-index datasets (ImageNet-N): paths and labels, never pixel copies; pixels decoded
with the standard preprocessing; training streamed through DataLoader workers; a natural
adversarial folder (ImageNet-A) indexed by class name; and the config checks that go with
them, each one line before any job."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from imagenet_trees import write_tree

from robustsweep.data.image_files import resize_for, training_batches
from robustsweep.data.imagenet_classes import imagenet_a_synsets
from robustsweep.data.natural_adversarial import (
    index_natural_folder,
    read_natural_adversarial,
    read_natural_images,
)
from robustsweep.data.prepared_dataset import (
    load_class_names,
    load_split,
    load_split_files,
    prepare_dataset,
)
from robustsweep.input_errors import ConfigError
from robustsweep.study_config import validate_config
from robustsweep.training.training_loop import recipe, train_run

WNIDS = list(imagenet_a_synsets()[:5])
POOL = WNIDS[1:4]


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    root = tmp_path_factory.mktemp("imagenet")
    write_tree(root / "train", WNIDS, per_class=6)
    write_tree(root / "val", WNIDS, per_class=2, seed=1)
    write_tree(root / "a", POOL[:2], per_class=3, seed=2)
    return root


def spec(trees, **extra) -> dict:
    return {
        "source": "imagefolder",
        "root": str(trees / "train"),
        "test_root": str(trees / "val"),
        "classes": WNIDS,
        "pool_classes": POOL,
        "storage": "files",
        "image_size": 16,
        "splits": {"train": 0.7, "test": 0.2, "pool": 0.3},
    } | extra


@pytest.fixture(scope="module")
def indexed(trees, tmp_path_factory):
    path = tmp_path_factory.mktemp("prepared") / "dataset.h5"
    prepare_dataset(path, spec(trees), seed=0)
    return path


def test_file_index_holds_the_pool_classes_paths_and_the_official_test_set(indexed, trees):
    with h5py.File(indexed) as h5:
        assert "images" not in h5 and h5.attrs["storage"] == "files"
        paths = h5["paths"].asstr()[()]
        labels, test = h5["labels"][()], h5["splits/test"][()]
        train, pool = h5["splits/train"][()], h5["splits/pool"][()]
    assert load_class_names(indexed) == sorted(POOL)
    assert len(paths) == 3 * 6 + 3 * 2  # only the pool classes' images, train then val
    assert all(path.startswith(str(trees)) for path in paths)
    assert all(str(trees / "val") in paths[i] for i in test) and len(test) == 6
    assert np.bincount(labels[train]).tolist() == [4, 4, 4]  # 6 per class at 0.7 : 0.3
    assert np.bincount(labels[pool]).tolist() == [2, 2, 2]
    for row in range(len(paths)):  # each label is the folder's position among the pool
        assert sorted(POOL)[labels[row]] in paths[row]


def test_split_pixels_are_resized_and_centre_cropped(indexed):
    split = load_split(indexed, "test")
    assert split.images.shape == (6, 16, 16, 3) and split.images.dtype == np.uint8
    assert resize_for(224) == 256 and resize_for(16) == 18
    # the class colours survive decoding: green, blue, yellow for the sorted pool
    means = [split.images[split.labels == k].reshape(-1, 3).mean(0) for k in range(3)]
    assert [int(np.argmax(m)) for m in means[:2]] == [1, 2] and means[2][2] < 100


def test_imagenet_augmentation_is_seeded_per_epoch_and_none_is_the_eval_crop(indexed):
    files = load_split_files(indexed, "train")

    def epoch(augmentation: str, seed: int, threads: int = 2) -> torch.Tensor:
        """One epoch in split order; 1 thread decodes in this process, 2 in two workers."""
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            generator = torch.Generator().manual_seed(seed)
            batches = training_batches(files.paths, files.labels, 16, augmentation, 64, generator)
            ((x, _y, rows),) = batches
        finally:
            torch.set_num_threads(previous)
        return x[torch.argsort(rows)]

    plain = epoch("none", 0)
    np.testing.assert_array_equal(
        plain.permute(0, 2, 3, 1).numpy(), load_split(indexed, "train").images
    )
    first, other = epoch("imagenet", 0), epoch("imagenet", 1)
    torch.manual_seed(123)
    untouched = torch.rand(1)
    torch.manual_seed(123)  # decoding in this process leaves the global RNG as it was
    in_process = epoch("imagenet", 0, threads=1)
    assert torch.equal(torch.rand(1), untouched)
    assert torch.equal(first, in_process)  # the same crops with or without workers
    assert not torch.equal(first, other) and not torch.equal(first, plain)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Photographs (scikit-learn's two samples, cropped to 160 x 120) in the formats a tree
    holds: baseline and progressive colour JPEG, grey JPEG, CMYK JPEG, PNG."""
    from PIL import Image
    from sklearn.datasets import load_sample_images

    folder = tmp_path_factory.mktemp("photos")
    china, flower = (Image.fromarray(a).resize((160, 120)) for a in load_sample_images().images)
    files = {
        "rgb.JPEG": (china, {"quality": 90}),
        "progressive.JPEG": (flower, {"quality": 90, "progressive": True}),
        "grey.JPEG": (flower.convert("L"), {"quality": 85}),
        "cmyk.JPEG": (china.convert("CMYK"), {"quality": 90}),
        "photo.png": (flower.transpose(Image.Transpose.ROTATE_90), {}),
    }
    for name, (image, options) in files.items():
        image.save(folder / name, **options)
    return [str(folder / name) for name in files]


def test_jpegs_decode_to_pillows_pixels_and_transforms_stay_within_one_level(photos):
    """read_image (torchvision.io for JPEGs) against Pillow, the decoder it replaced: the same
    libjpeg-turbo, so the same pixels; the uint8 tensor transforms against torchvision's v1
    transforms on Pillow images (what the loader ran before): identical crops and flips,
    antialiased bilinear resizing that differs by rounding only (at most 1 grey level)."""
    from torchvision import transforms as v1

    from robustsweep.data.image_files import eval_transform, read_image, rgb_image, train_transform

    def v1_train(size):
        crop = v1.RandomResizedCrop(size, antialias=True)
        return v1.Compose([crop, v1.RandomHorizontalFlip(), v1.PILToTensor()])

    def v1_eval(size):
        resize = v1.Resize(resize_for(size), antialias=True)
        return v1.Compose([resize, v1.CenterCrop(size), v1.PILToTensor()])

    differences = []
    for path in photos:
        pillow = rgb_image(path)
        pixels = read_image(path)
        assert pixels.dtype == torch.uint8 and pixels.shape == (3, pillow.height, pillow.width)
        assert torch.equal(pixels.permute(1, 2, 0), torch.from_numpy(np.array(pillow)))
        for seed in range(6):
            for ours, theirs in ((train_transform(48, "imagenet"), v1_train(48)),
                                 (eval_transform(48), v1_eval(48))):  # fmt: skip
                torch.manual_seed(seed)
                mine = ours(pixels)
                torch.manual_seed(seed)
                reference = theirs(pillow)
                assert mine.shape == reference.shape == (3, 48, 48)
                differences.append((mine.int() - reference.int()).abs())
    differences = torch.stack(differences)
    # rounding only: never more than one grey level. How often one level depends on the
    # kernels: torch's AVX2/AVX-512 uint8 kernel repeats Pillow's fixed-point arithmetic
    # (measured: 0.4 % of values one level off), its default kernel computes in float (13 %,
    # ATEN_CPU_CAPABILITY=default); 0.25 bounds both and still catches a systematic shift
    assert differences.max() <= 1 and differences.float().mean() < 0.25


def test_a_truncated_jpeg_is_named_by_read_image(photos, tmp_path):
    from robustsweep.data.image_files import read_image
    from robustsweep.input_errors import ImageFileError

    whole = Path(photos[0]).read_bytes()
    (tmp_path / "cut.JPEG").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ImageFileError, match="cut.JPEG cannot be decoded"):
        read_image(str(tmp_path / "cut.JPEG"))


def epoch_images(paths, labels, augmentation, seed, threads, device=None) -> torch.Tensor:
    """One epoch of 16 px images in path order (1 thread: this process; 2: two workers)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        generator = torch.Generator().manual_seed(seed)
        batches = list(training_batches(paths, labels, 16, augmentation, 8, generator, device))
    finally:
        torch.set_num_threads(previous)
    images = torch.cat([x.cpu() for x, _y, _rows in batches])
    return images[torch.argsort(torch.cat([rows for _x, _y, rows in batches]))]


def test_decoding_on_the_device_gives_the_workers_images(indexed, photos):
    """The device path (workers read bytes and draw crops; the training process decodes and
    crops), run on the CPU here, gives bit for bit the images the workers' path gives, for
    JPEGs and for what only Pillow reads (CMYK, PNG)."""
    files = load_split_files(indexed, "train")
    paths = [*files.paths, *photos]
    labels = np.concatenate([files.labels, np.zeros(len(photos), np.int64)])
    cpu = torch.device("cpu")
    for augmentation in ("imagenet", "none"):
        workers = epoch_images(paths, labels, augmentation, 3, threads=2)
        in_process = epoch_images(paths, labels, augmentation, 3, threads=1, device=cpu)
        assert torch.equal(in_process, workers), augmentation


@pytest.mark.skipif(not torch.cuda.is_available(), reason="decoding on a GPU needs CUDA")
def test_decoding_on_a_gpu_stays_close_to_the_cpu(indexed, photos):
    """nvJPEG rounds its inverse DCT and colour conversion differently from libjpeg-turbo and
    the GPU resizes in float: the same crops, pixels within a few grey levels."""
    from robustsweep.data.image_files import device_decoder

    gpu = torch.device("cuda", 0)
    assert device_decoder(gpu) == gpu
    files = load_split_files(indexed, "train")
    paths = [*files.paths, *photos]
    labels = np.concatenate([files.labels, np.zeros(len(photos), np.int64)])
    cpu_images = epoch_images(paths, labels, "imagenet", 3, threads=1)
    gpu_images = epoch_images(paths, labels, "imagenet", 3, threads=1, device=gpu)
    difference = (gpu_images.int() - cpu_images.int()).abs().float()
    assert difference.mean() < 1.5 and difference.quantile(0.99) <= 8


def test_training_from_files_gives_the_same_weights_twice(indexed, tmp_path):
    subset = tmp_path / "subset.json"
    subset.write_text(json.dumps({"class_ids": [0, 1, 2]}))
    streamed = recipe(epochs=3, batch_size=4, lr=0.01, augmentation="imagenet")
    tensors = []
    for name in ("a", "b"):
        weights = tmp_path / name / "weights.safetensors"
        weights.parent.mkdir()
        train_run(
            weights,
            tmp_path / name / "epochs.csv",
            indexed,
            subset,
            {"architecture": "small_cnn", "width": 4},
            streamed,
            {"method": "standard"},
            {},
            0,
            torch.device("cpu"),
        )
        from safetensors.torch import load_file

        tensors.append(load_file(weights))
    for key, value in tensors[0].items():
        # float32, the same operations regrouped: assert_close's float32 default (rtol 1.3e-6, atol
        # 1e-5) is a few ulps of these O(1) values
        torch.testing.assert_close(value, tensors[1][key], msg=key)
    log = (tmp_path / "a" / "epochs.csv").read_text().splitlines()
    assert len(log) == 4


def test_natural_folder_is_indexed_by_class_name(indexed, trees, tmp_path):
    output = tmp_path / "natural.h5"
    index_natural_folder(output, indexed, trees / "a", "imagenet-a")
    data = read_natural_adversarial(output)
    names = load_class_names(indexed)
    assert data["images"].shape == (6, 16, 16, 3)
    assert sorted(names[label] for label in set(data["label"].tolist())) == sorted(POOL[:2])
    assert set(data["pattern"]) == {"imagenet-a"} and (data["clean_index"] == -1).all()
    np.testing.assert_array_equal(read_natural_images(output, [4, 1]), data["images"][[4, 1]])
    mined = tmp_path / "mined.h5"  # a mined set stores pixels: the same rows come back
    with h5py.File(mined, "w") as h5:
        h5["images"] = data["images"]
    np.testing.assert_array_equal(read_natural_images(mined, [4, 1]), data["images"][[4, 1]])


def study(trees, **sections) -> dict:
    config = {
        "dataset": spec(trees),
        "models": {"cnn": {"architecture": "small_cnn"}},
        "attacks": {"methods": {}},
        "natural_adversarial": {"root": str(trees / "a")},
        "experiments": {"e": {"models": ["cnn"], "train_classes": [3], "draws": [0]}},
    }
    for key, value in sections.items():
        config[key] = value if not isinstance(value, dict) else config.get(key, {}) | value
    return config


def error_of(config) -> str:
    with pytest.raises(ConfigError) as caught:
        validate_config(config)
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_a_folder_study_needs_no_surrogate(trees):
    config = validate_config(study(trees))
    assert config["dataset"]["storage"] == "files"
    assert config["natural_adversarial"]["name"] == "folder"


def test_folder_config_mistakes_are_refused_before_any_job(trees):
    assert "'dataset.pool_classes' names 1 class(es) that" in error_of(
        study(trees, dataset=spec(trees, pool_classes=[*POOL, "n09999999"]))
    )
    assert "'dataset.test_root' (config key" not in error_of(
        study(trees, dataset=spec(trees, test_root=str(trees / "a")))
    )
    assert "lacks 3 class folder(s)" in error_of(
        study(trees, dataset=spec(trees, test_root=str(trees / "a")))
    )
    outside = study(trees, natural_adversarial={"root": str(trees / "train")})
    assert "has 2 class(es) that are not among the study's classes" in error_of(outside)
    listed = study(trees, natural_adversarial={"root": str(trees / "a"), "classes": POOL})
    assert "lacks 1 class folder(s)" in error_of(listed)
    stored = study(
        trees,
        attacks={"surrogate": {"model": "cnn"}, "methods": {"fgsm": {"method": "fgsm"}}},
        defences={"mix": {"method": "offline_adversarial", "ratio": 0.5, "attacks": ["fgsm"]}},
    )
    assert "'defences.mix' trains on stored attacks of the whole train split" in error_of(stored)
    crop = study(trees, training={"augmentation": "crop_flip"})
    assert error_of(crop) == (
        "config key 'training.augmentation' is 'crop_flip', which does not apply to a "
        "file-index dataset; allowed values: none, imagenet"
    )


def test_pretrained_models_are_checked_before_any_job(trees):
    stem = study(trees, models={"r": {"architecture": "resnet18", "pretrained": True}})
    stem["experiments"]["e"]["models"] = ["r"]
    assert "needs small_input_stem: false" in error_of(stem)
    digits = {
        "models": {"m": {"architecture": "mobilenet_v3_small", "pretrained": True}},
        "natural_adversarial": {"surrogate": {"model": "m"}},
        "experiments": {"e": {"models": ["m"], "train_classes": [10], "draws": [0]}},
    }
    assert "needs an imagefolder dataset whose class folders are ImageNet" in error_of(digits)
    defended = study(
        trees,
        models={"m": {"architecture": "convnext_tiny", "pretrained": True}},
        defences={"at": {"method": "pgd_at"}},
    )
    defended["experiments"]["e"] |= {"models": ["m"], "defences": ["standard", "at"]}
    assert "trains at on the pretrained model 'm'" in error_of(defended)
    timm_options = study(trees, models={"t": {"architecture": "timm:resnet10t", "width": 3}})
    assert "unknown config key 'width'" in error_of(timm_options)


def test_mining_needs_pool_images_and_explanations_need_a_run(trees):
    config = study(trees, dataset=spec(trees, splits={"train": 1.0, "pool": 0}))
    del config["natural_adversarial"]
    config["natural_adversarial"] = {"surrogate": {"model": "cnn"}}
    assert "'dataset.splits.pool' is 0" in error_of(config)
    explained = study(trees, explanations={"models": ["cnn"]})
    explained["experiments"]["e"]["train_classes"] = [2]
    assert "names 'cnn', which has no all-class standard run" in error_of(explained)
