"""Pretrained ImageNet models: weights from the library cache, logits sliced to the study's
classes, and one line when the weights are neither cached nor downloadable."""

from __future__ import annotations

import json
from urllib.error import URLError

import h5py
import numpy as np
import pytest
import torch
from imagenet_trees import (
    export_stand_in_run,
    stand_in_weights_file,
    write_stand_in_weights,
)

from robustsweep.data.imagenet_classes import imagenet_a_positions, imagenet_a_synsets
from robustsweep.data.prepared_dataset import load_split
from robustsweep.input_errors import InputError, WeightsError
from robustsweep.models.pretrained_weights import (
    logit_positions,
    timm_state_dict,
    torchvision_state_dict,
)
from robustsweep.models.trained_models import ModelCard, load_model, read_card

WNIDS = list(imagenet_a_synsets()[:4])


def test_logit_positions_are_imagenet_a_positions_and_unknown_names_are_refused():
    assert logit_positions(WNIDS) == list(imagenet_a_positions()[:4])
    assert logit_positions(["n01440764", "n15075141"]) == [0, 999]  # tench, toilet tissue
    with pytest.raises(InputError, match="class\\(es\\) cat are not ImageNet-1k WordNet ids"):
        logit_positions(["n01440764", "cat"])


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    home = tmp_path / "torch"
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(home / "hub"))
    return home


def test_missing_weights_offline_name_the_file_and_the_folder(torch_home, monkeypatch):
    def offline(url, dst, *args, **kwargs):
        raise URLError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(WeightsError) as caught:
        torchvision_state_dict("mobilenet_v3_small", True)
    message = str(caught.value)
    assert "\n" not in message
    assert "MobileNet_V3_Small_Weights.IMAGENET1K_V1" in message
    assert "mobilenet_v3_small-047dcff4.pth" in message
    assert str(torch_home / "hub" / "checkpoints") in message


def test_unknown_torchvision_weights_name_is_refused(torch_home):
    with pytest.raises(InputError, match="no weights 'IMAGENET1K_V9' for resnet18; allowed"):
        torchvision_state_dict("resnet18", "IMAGENET1K_V9")


def test_timm_failure_becomes_one_line(monkeypatch):
    import timm

    def offline(*args, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co'\nmore")

    monkeypatch.setattr(timm, "create_model", offline)
    with pytest.raises(WeightsError) as caught:
        timm_state_dict("resnet10t.c3_in1k")
    message = str(caught.value)
    assert "\n" not in message and "'resnet10t.c3_in1k'" in message and "HF_HOME" in message


def test_pretrained_run_keeps_the_logits_of_its_classes(tmp_path, torch_home):
    state = write_stand_in_weights(torch_home, "mobilenet_v3_small")
    weights, dataset = export_stand_in_run(tmp_path, WNIDS)

    card = read_card(weights)
    positions = imagenet_a_positions()
    assert card.logit_positions == [positions[2], positions[0], positions[3]]
    assert card.class_ids == [2, 0, 3] and card.parameters == 2_542_856
    assert card.pretrained_weights == "MobileNet_V3_Small_Weights.IMAGENET1K_V1"
    model, _ = load_model(weights)
    from torchvision import models

    reference = models.mobilenet_v3_small(weights=None)
    reference.load_state_dict(state)
    images = load_split(dataset, "train").images
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = reference.eval()((x - mean) / std)[:, card.logit_positions]
        # float32, the same operations regrouped: assert_close's float32 default (rtol 1.3e-6, atol
        # 1e-5) is a few ulps of these O(1) values
        torch.testing.assert_close(model(x), expected)
    with h5py.File(dataset) as h5:
        assert "images" not in h5 and len(h5["paths"]) == 20
    assert (tmp_path / "epochs.csv").read_text().strip() == "epoch,loss,accuracy,lr,seconds"
    assert stand_in_weights_file(torch_home, "mobilenet_v3_small").exists()
    assert np.isfinite(expected.numpy()).all()


def test_a_card_written_before_pretrained_weights_was_renamed_still_loads(tmp_path):
    """The card's `pretrained_weights` was `weights_source`: weights files written then load
    with the value under its new name."""
    card = ModelCard("mobilenet_v3_small", {}, [0, 1], 10, pretrained_weights="W.IMAGENET1K_V1")
    old = json.loads(card.to_metadata()["robustsweep"])
    old["weights_source"] = old.pop("pretrained_weights")
    assert ModelCard.from_metadata({"robustsweep": json.dumps(old)}, tmp_path / "w") == card
    with pytest.raises(TypeError):  # negative control: the old field is no card field
        ModelCard(**old)
