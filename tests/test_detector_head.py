"""tan2022's detector head: a detector on the clean copy's feature maps, trained beside the
model on the offline store, saved with the weights and resumed exactly after a kill."""

import pytest
import torch
from safetensors import safe_open

from conftest import kill_at_epoch, record_epochs, train_small_cnn
from robustsweep.attacks.adversarial_store import generate_store
from robustsweep.attacks.methods import build_attack
from robustsweep.data.prepared_dataset import load_split
from robustsweep.models.inference import to_float
from robustsweep.models.networks import build_model
from robustsweep.models.trained_models import load_detector, load_model
from robustsweep.training.adversarial_detector import detector_scores
from robustsweep.training.defences import DEFENCES, TrainingContext
from robustsweep.training.training_loop import recipe

CPU = torch.device("cpu")
FGSM = {"method": "fgsm", "eps": 0.1}
DEFENCE = {"method": "detector_head", "ratio": 0.5, "attacks": ["fgsm"], "layers": 2}


@pytest.fixture(scope="module")
def fgsm_train_store(tmp_path_factory, digits_h5, trained_model):
    path = tmp_path_factory.mktemp("store") / "fgsm.h5"
    generate_store(path, digits_h5, "train", trained_model, "fgsm", FGSM, 256, 0, CPU)
    return path


def train_detector(folder, digits_h5, subset, store, clean_copy):
    # small_cnn of width 8: the clean copy's architecture (trained_model fixture); started from
    # the clean copy, 4 epochs suffice (fresh: 0.68 clean accuracy after 4, measured)
    short = recipe(epochs=4, lr=3e-3, restart_epochs=4)
    defence = DEFENCE | {"init": "clean_copy"}
    return train_small_cnn(
        folder, digits_h5, subset, defence, short, stores={"fgsm": store}, clean_copy=clean_copy
    )


@pytest.fixture(scope="module")
def detector_run(tmp_path_factory, digits_h5, all_classes_subset, fgsm_train_store, trained_model):
    folder = tmp_path_factory.mktemp("detector")
    return train_detector(folder, digits_h5, all_classes_subset, fgsm_train_store, trained_model)


@pytest.fixture(scope="module")
def test_images(digits_h5, trained_model):
    """Test images and their FGSM versions made against the clean copy."""
    clean_copy, _ = load_model(trained_model)
    split = load_split(digits_h5, "test")
    images, labels = to_float(split.images, CPU), torch.as_tensor(split.labels)
    torch.manual_seed(0)
    return images, build_attack(clean_copy, FGSM, 10)(images, labels), labels


def test_detector_tells_adversarial_from_clean_images(detector_run, test_images):
    images, adversarial, _ = test_images
    clean_copy, taps, detector = load_detector(detector_run)
    on_clean = (detector_scores(clean_copy, taps, detector, images) < 0.5).float().mean()
    on_adversarial = (detector_scores(clean_copy, taps, detector, adversarial) > 0.5).float().mean()
    # measured: 0.73 of clean and 0.87 of adversarial images right after 4 epochs
    assert (on_clean + on_adversarial).item() / 2 > 0.7
    assert min(on_clean.item(), on_adversarial.item()) > 0.55


def test_detector_run_resists_the_attack_it_trained_on(detector_run, trained_model, test_images):
    images, adversarial, labels = test_images
    model, card = load_model(detector_run)
    clean_copy, _ = load_model(trained_model)
    with torch.no_grad():
        robust = (model(adversarial).argmax(1) == labels).float().mean().item()
        undefended = (clean_copy(adversarial).argmax(1) == labels).float().mean().item()
        clean = (model(images).argmax(1) == labels).float().mean().item()
    assert undefended < 0.1 and robust > undefended + 0.5  # measured: 0.02 -> 0.81
    assert clean > 0.8
    assert card.parameters == load_model(trained_model)[1].parameters  # the detector is extra


def test_weights_file_carries_detector_and_the_clean_copy(detector_run, trained_model):
    _, card = load_model(detector_run)
    assert card.detector["levels"] == "full" and card.detector["layers"] == 2
    assert card.detector["shapes"] == [[8, 8], [16, 4]]  # small_cnn's two blocks at 16 px
    assert card.detector["grid"] == 4  # the shallowest map's 8 x 8 at grid_stride 2
    with safe_open(str(detector_run), "pt") as run, safe_open(str(trained_model), "pt") as clean:
        assert any(k.startswith("detector.") for k in run.keys())  # noqa: SIM118
        for key in clean.keys():  # noqa: SIM118
            assert torch.equal(run.get_tensor(f"clean_copy.{key}"), clean.get_tensor(key))


def prepared(init: str, store, clean_copy_weights, digits_h5, seed: int = 0):
    """A small_cnn built as train_run builds it (seeded with the draw), then prepared."""
    split = load_split(digits_h5, "train")
    context = TrainingContext(
        CPU, torch.from_numpy(split.indices), {"fgsm": store}, clean_copy_weights, 16
    )
    defence = DEFENCES.build(DEFENCE | {"init": init}).build(context)
    torch.manual_seed(seed)
    model = build_model({"architecture": "small_cnn", "width": 8}, 10)
    defence.prepare(model)
    assert len(defence.parameters()) > 0
    return model.state_dict()


def same_weights(first: dict, second: dict) -> bool:
    return all(torch.equal(first[key], value) for key, value in second.items())


def test_init_clean_copy_starts_from_the_twin(digits_h5, fgsm_train_store, trained_model):
    clean_copy = load_model(trained_model)[0].state_dict()
    assert same_weights(
        prepared("clean_copy", fgsm_train_store, trained_model, digits_h5), clean_copy
    )


def test_init_fresh_starts_from_the_runs_seeded_initialisation(
    digits_h5, fgsm_train_store, trained_model
):
    clean_copy = dict(load_model(trained_model)[0].named_parameters())
    fresh = prepared("fresh", fgsm_train_store, trained_model, digits_h5, seed=3)
    torch.manual_seed(3)
    initial = build_model({"architecture": "small_cnn", "width": 8}, 10).state_dict()
    assert same_weights(fresh, initial)  # prepare kept the seeded initialisation
    # no learned weight of the clean copy (its normalisation buffers are the same)
    assert not any(torch.equal(fresh[key], value) for key, value in clean_copy.items())
    again = prepared("fresh", fgsm_train_store, trained_model, digits_h5, seed=3)
    other = prepared("fresh", fgsm_train_store, trained_model, digits_h5, seed=4)
    assert same_weights(again, fresh) and not same_weights(other, fresh)
    assert DEFENCES.build(DEFENCE).init == "fresh"  # the authors' default


def test_killed_detector_run_resumes_to_the_same_weights(
    tmp_path,
    digits_h5,
    all_classes_subset,
    fgsm_train_store,
    trained_model,
    detector_run,
    monkeypatch,
):
    kill_at_epoch(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        train_detector(tmp_path, digits_h5, all_classes_subset, fgsm_train_store, trained_model)
    epochs_run = record_epochs(monkeypatch)
    resumed = train_detector(
        tmp_path, digits_h5, all_classes_subset, fgsm_train_store, trained_model
    )
    assert epochs_run == [2, 3]
    assert resumed.read_bytes() == detector_run.read_bytes()


def test_grid_follows_the_shallowest_fused_map_as_in_the_authors_code():
    from torch import nn

    from robustsweep.training.adversarial_detector import (
        AdversarialDetector,
        FeatureTaps,
        map_shapes,
        token_grid,
    )

    torch.manual_seed(0)
    model = build_model({"architecture": "resnet34"}, 10).eval()  # the CIFAR stem, 32 px
    shapes = map_shapes(model, FeatureTaps(model, "full"), 32)
    assert shapes == [(64, 32), (128, 16), (256, 8), (512, 4)]
    # the authors' head fuses on layer2's 16 x 16: layer1's map at stride 2, "Low" too
    assert token_grid(shapes, 2) == 16 and token_grid(shapes[:1], 2) == 16
    assert token_grid(shapes, 4) == 8 and token_grid([(8, 2)], 4) == 1
    detector = AdversarialDetector(shapes, dim=16, layers=1, grid=16)
    assert detector.position.shape == (1, 4 * 16 * 16 + 1, 16)
    for embed, (channels, side) in zip(detector.embed, shapes, strict=True):
        assert embed(torch.randn(1, channels, side, side)).shape == (1, 16, 16, 16)
    first, second, third = (embed[0] for embed in detector.embed[:3])
    assert first.kernel_size == (3, 3) and first.stride == (2, 2)  # the authors' layer1 conv
    assert second.kernel_size == (1, 1)  # layer2 is the grid itself
    assert isinstance(third, nn.ConvTranspose2d) and third.stride == (2, 2)
    embedding, logits = detector([torch.randn(2, c, s, s) for c, s in shapes])
    assert embedding.shape == (2, 16) and logits.shape == (2, 2)
