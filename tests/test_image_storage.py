"""`attacks.store`: exact or JPEG storage, with or without the repair after rounding, and a
success report that counts the stored images still adversarial either way."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch
from PIL import Image

from robustsweep.attacks.adversarial_store import generate_store
from robustsweep.attacks.image_storage import ImageStorage, jpeg_round_trip
from robustsweep.attacks.success_report import read_report, summary_line
from robustsweep.models.inference import to_float
from robustsweep.models.trained_models import load_model

CPU = torch.device("cpu")
DEEPFOOL = {"method": "deepfool", "steps": 20, "overshoot": 0.0}
AUTHORS = ImageStorage(format="jpeg", jpeg_quality=75, repair=False)


def test_jpeg_round_trip_is_what_the_authors_image_files_hold(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    ours = jpeg_round_trip(images, 75)
    for i, image in enumerate(images):
        path = tmp_path / f"{i}.jpg"  # the authors' save_adv_data: Image.save with defaults
        Image.fromarray(image).save(path)
        assert np.array_equal(ours[i], np.asarray(Image.open(path)))
    assert not np.array_equal(ours, images)  # JPEG is lossy on noise


def store(tmp_path, digits_h5, trained_model, storage, name):
    path = tmp_path / f"{name}.h5"
    report = generate_store(
        path, digits_h5, "test", trained_model, "deepfool", DEEPFOOL, 128, 0, CPU, storage
    )
    with h5py.File(path) as h5:
        group = h5["deepfool"]
        images, source_pred, labels = (group[k][()] for k in ("images", "source_pred", "label"))
    return report, images, source_pred, labels, path


@pytest.fixture(scope="module")
def stores(tmp_path_factory, digits_h5, trained_model):
    folder = tmp_path_factory.mktemp("storage")
    return {
        name: store(folder, digits_h5, trained_model, storage, name)
        for name, storage in {
            "exact": ImageStorage(),
            "exact_no_repair": ImageStorage(repair=False),
            "authors": AUTHORS,
        }.items()
    }


def test_the_authors_storage_keeps_the_decoded_jpeg_of_the_unrepaired_rounding(stores):
    _, unrepaired, *_ = stores["exact_no_repair"]
    _, jpeg, *_ = stores["authors"]
    assert np.array_equal(jpeg, jpeg_round_trip(unrepaired, 75))


def test_stored_predictions_are_the_models_on_the_stored_pixels(stores, trained_model):
    model, _ = load_model(trained_model)
    for _, images, source_pred, _, _ in stores.values():
        with torch.no_grad():
            assert np.array_equal(model(to_float(images, CPU)).argmax(1).numpy(), source_pred)


def test_the_report_counts_the_stored_images_still_adversarial_either_way(stores):
    reports = {name: value[0] for name, value in stores.items()}
    for name, report in reports.items():
        _, _, source_pred, labels, _ = stores[name]
        assert 0 <= report["still_adversarial"] <= report["fooled_float"] <= report["n_attacked"]
        # every still-adversarial image is a stored mistake
        assert report["still_adversarial"] <= int((source_pred != labels).sum())
    # DeepFool without overshoot ends on the boundary: rounding undoes many (digits: ~90 %)
    exact, bare, authors = reports["exact"], reports["exact_no_repair"], reports["authors"]
    assert exact["fooled_float"] == bare["fooled_float"] == authors["fooled_float"]
    assert bare["still_adversarial"] < exact["still_adversarial"]
    assert bare["repair_needed"] == exact["repair_needed"] > 0 and bare["repaired"] == 0
    assert exact["store_format"] == "uint8"
    assert authors["store_format"] == "JPEG q75, no repair"
    assert "stored as JPEG q75, no repair: " in summary_line("test/deepfool", authors)
    assert "still adversarial" in summary_line("test/deepfool", authors)


def test_the_report_reads_back_from_the_file(stores):
    report, *_, path = stores["authors"]
    read = read_report(path)
    for key in ("store_format", "fooled_float", "still_adversarial"):
        assert read[key] == report[key]
