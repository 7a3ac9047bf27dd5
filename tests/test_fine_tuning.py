"""ho2024's ResNet-50 as the paper describes it: the ImageNet stem (7x7 stride-2 conv1, then
max pooling) and pre-train-then-fine-tune from torchvision's ImageNet weights (`init_weights`),
the classifier head re-initialised for the study's classes. Nothing is downloaded: a stand-in
checkpoint is written under a temporary TORCH_HOME, in torchvision's file name."""

from __future__ import annotations

from urllib.error import URLError

import pandas as pd
import pytest
import torch
from imagenet_trees import write_stand_in_weights

from robustsweep.input_errors import ConfigError, InputError, WeightsError
from robustsweep.models.architectures import IMAGENET_MEAN, architecture_of
from robustsweep.models.networks import build_model
from robustsweep.models.pretrained_weights import load_backbone
from robustsweep.models.trained_models import load_model
from robustsweep.training.training_loop import recipe, train_run

FINE_TUNED = {
    "architecture": "resnet18",
    "small_input_stem": False,
    "init_weights": "IMAGENET1K_V1",
}


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    home = tmp_path / "torch"
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(home / "hub"))

    def offline(url, dst, *args, **kwargs):
        raise URLError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    return home


def last_stage_map(spec: dict, size: int = 32) -> tuple[int, ...]:
    """The shape of layer4's output for one size x size image."""
    net = architecture_of(spec).network(10).eval()
    seen = []
    net.layer4.register_forward_hook(lambda module, args, out: seen.append(out.shape))
    with torch.no_grad():
        net(torch.zeros(1, 3, size, size))
    return tuple(seen[0])


def test_imagenet_stem_is_the_papers_conv1_and_max_pool():
    """Stage 1 of ho2024: 64 filters of 7x7 at stride 2, then max pooling at stride 2: at
    32 px 32 -> 16 -> 8, then stages 2-5 at strides 1, 2, 2, 2 leave 8 -> 8 -> 4 -> 2 -> 1."""
    net = architecture_of({"architecture": "resnet50", "small_input_stem": False}).network(10)
    assert net.conv1.kernel_size == (7, 7) and net.conv1.stride == (2, 2)
    assert net.conv1.out_channels == 64
    assert isinstance(net.maxpool, torch.nn.MaxPool2d) and net.maxpool.stride == 2
    assert last_stage_map({"architecture": "resnet50", "small_input_stem": False}) == (
        1,
        2048,
        1,
        1,
    )
    # the 32 px adaptation (3x3 stride-1 conv, no pool) keeps 32 -> 32 -> 16 -> 8 -> 4
    assert last_stage_map({"architecture": "resnet50"}) == (1, 2048, 4, 4)


def test_backbone_loads_every_layer_but_the_head(torch_home):
    state = write_stand_in_weights(torch_home, "resnet50", seed=3, weights="IMAGENET1K_V1")
    spec = {"architecture": "resnet50", "small_input_stem": False, "init_weights": "IMAGENET1K_V1"}
    architecture = architecture_of(spec)
    torch.manual_seed(0)
    model = build_model(architecture, 10)
    fresh_head = model.net.fc.weight.detach().clone()
    assert "IMAGENET1K_V1" in load_backbone(model, architecture)
    own = model.net.state_dict()
    for key, value in state.items():
        if not key.startswith("fc."):
            assert torch.equal(own[key], value), key
    assert own["fc.weight"].shape == (10, 2048) and own["fc.bias"].shape == (10,)
    assert torch.equal(own["fc.weight"], fresh_head)  # the seeded fresh head, not ImageNet's
    # a float32 buffer against the decimal constants: rel 1e-6 is ~8 ulps
    assert model.mean.flatten().tolist() == pytest.approx(IMAGENET_MEAN)


def test_fine_tuning_starts_from_the_checkpoint_and_then_trains(
    tmp_path, torch_home, digits_h5, all_classes_subset
):
    state = write_stand_in_weights(torch_home, "resnet18", seed=5, weights="IMAGENET1K_V1")
    torch.set_num_threads(1)
    weights = tmp_path / "weights.safetensors"
    train_run(
        weights,
        tmp_path / "epochs.csv",
        digits_h5,
        all_classes_subset,
        FINE_TUNED,
        recipe(epochs=1, optimizer="adamw", lr=1e-3, weight_decay=5e-4, batch_size=100),
        {"method": "standard"},
        {},
        0,
        torch.device("cpu"),
    )
    model, card = load_model(weights)
    trained = model.net.state_dict()
    assert card.options["init_weights"] == "IMAGENET1K_V1"
    assert trained["fc.weight"].shape == (10, 512)  # the study's classes, not ImageNet's 1000
    # AdamW moved every layer away from the checkpoint it started from...
    assert not torch.equal(trained["conv1.weight"], state["conv1.weight"])
    # ...but only by training steps: lr 1e-3 for a few batches, far less than a fresh init
    start_gap = (trained["conv1.weight"] - state["conv1.weight"]).abs().max().item()
    assert 0 < start_gap < 0.05
    assert len(pd.read_csv(tmp_path / "epochs.csv")) == 1


def test_fine_tuning_offline_without_the_file_stops_with_one_line(torch_home):
    architecture = architecture_of(FINE_TUNED)
    with pytest.raises(WeightsError) as caught:
        load_backbone(build_model(architecture, 10), architecture)
    message = str(caught.value)
    assert "\n" not in message and "resnet18-f37072fd.pth" in message


def test_fine_tuning_needs_the_stem_its_weights_were_trained_with(torch_home):
    write_stand_in_weights(torch_home, "resnet18", weights="IMAGENET1K_V1")
    with pytest.raises(ConfigError, match="sets init_weights, so it needs small_input_stem"):
        architecture_of({**FINE_TUNED, "small_input_stem": True}).check("models.r", None)
    with pytest.raises(ConfigError, match="both pretrained .* and init_weights"):
        architecture_of({**FINE_TUNED, "pretrained": True}).check("models.r", None)
    strided = architecture_of({**FINE_TUNED, "strides": "2222"})  # layer1 gains a shortcut
    with pytest.raises(InputError, match="layer 'layer1.0.downsample"):
        load_backbone(build_model(strided, 10), strided)
