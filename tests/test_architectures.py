"""xu2024's feature-map modifiers change the map before pooling, not the parameters."""

import pytest
import torch
from torch import nn

from robustsweep.models.networks import build_model, feature_stages, parameter_count


def map_before_pooling(model: nn.Module, size: int = 32) -> tuple[int, ...]:
    """Shape of what the global pooling layer receives for one image."""
    seen = {}
    pool = next(
        m for m in model.modules() if isinstance(m, nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d)
    )

    def keep_input(_module, inputs, _output) -> None:
        seen["x"] = inputs[0]

    handle = pool.register_forward_hook(keep_input)
    model.eval()
    with torch.no_grad():
        out = model(torch.rand(1, 3, size, size))
    handle.remove()
    assert out.shape == (1, 7)
    return tuple(seen["x"].shape[2:])


@pytest.mark.parametrize("architecture", ["resnet18", "resnet50"])
def test_last_stride_and_upsampling_enlarge_the_map_and_keep_the_parameters(architecture):
    plain = build_model({"architecture": architecture}, 7)
    assert map_before_pooling(plain) == (4, 4)  # CIFAR stem: 32 -> 4 in the last stage
    stride_one = build_model({"architecture": architecture, "last_stride": 1}, 7)
    assert map_before_pooling(stride_one) == (8, 8)
    upsampled = build_model({"architecture": architecture, "upsample": 2}, 7)
    assert map_before_pooling(upsampled) == (8, 8)
    both = build_model({"architecture": architecture, "upsample": 2, "last_stride": 1}, 7)
    assert map_before_pooling(both) == (16, 16)
    counts = {parameter_count(m) for m in (plain, stride_one, upsampled, both)}
    assert len(counts) == 1


def test_max_pooling_option_swaps_the_global_pool():
    model = build_model({"architecture": "resnet34", "pooling": "max"}, 7)
    pools = [m for m in model.modules() if isinstance(m, nn.AdaptiveMaxPool2d)]
    assert len(pools) == 1 and not any(isinstance(m, nn.AdaptiveAvgPool2d) for m in model.modules())
    assert map_before_pooling(model) == (4, 4)


def test_imagenet_stem_keeps_torchvision_downsampling():
    model = build_model({"architecture": "resnet18", "small_input_stem": False}, 7)
    assert map_before_pooling(model, size=64) == (2, 2)


@pytest.mark.parametrize(
    ("architecture", "millions"),
    [
        # CIFAR variants as in ho2024's comparison (pytorch-cifar-models' sizes)
        ("vgg19_bn", 20.57),
        ("shufflenet_v2_x1_0", 1.26),
        ("repvgg_a2", 26.82),
    ],
)
def test_seed_002_models_take_32_pixel_images(architecture, millions):
    model = build_model({"architecture": architecture}, 10).eval()
    with torch.no_grad():
        assert model(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    assert parameter_count(model) / 1e6 == pytest.approx(millions, abs=0.01)


@pytest.mark.parametrize(
    ("architecture", "factor"),
    [("shufflenet_v2_x1_0", 4), ("repvgg_a2", 2)],  # stride 2 and max-pool; stride 2 only
)
def test_small_input_stem_keeps_a_larger_map(architecture, factor):
    def deepest(options):
        model = build_model({"architecture": architecture, **options}, 10).eval()
        maps = []
        feature_stages(model)[-1].register_forward_hook(lambda _m, _i, out: maps.append(out))
        with torch.no_grad():
            model(torch.rand(1, 3, 32, 32))
        return maps[0].shape[-1]

    assert deepest({}) == factor * deepest({"small_input_stem": False})


@pytest.mark.parametrize(
    "architecture",
    ["small_cnn", "resnet34", "vgg19_bn", "shufflenet_v2_x1_0", "repvgg_a2"],
)
def test_feature_stages_run_from_shallow_to_deep(architecture):
    model = build_model({"architecture": architecture}, 10).eval()
    sides = []
    for stage in feature_stages(model):
        stage.register_forward_hook(lambda _m, _i, out: sides.append(out.shape[-1]))
    with torch.no_grad():
        model(torch.rand(1, 3, 32, 32))
    assert len(sides) >= 2 and sides == sorted(sides, reverse=True) and sides[0] > sides[-1]
