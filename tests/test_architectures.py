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


def test_stage_strides_and_upsampling_enlarge_the_map_and_keep_the_parameters():
    def built(architecture="resnet18", **options):
        return build_model({"architecture": architecture, **options}, 7)

    plain = built()
    assert map_before_pooling(plain) == (4, 4)  # CIFAR stem: 32 -> 4 in the last stage
    models = {"1122": (8, 8), "1221": (8, 8), "1112": (16, 16)}  # xu2024's; former last_stride 1
    models = {built(strides=scheme): side for scheme, side in models.items()}
    models[built(upsample=2)] = (8, 8)
    models[built(upsample=2, strides="1221")] = (16, 16)
    for model, side in models.items():
        assert map_before_pooling(model) == side
    assert {parameter_count(m) for m in models} == {parameter_count(plain)}
    # the bottleneck family strides its 3x3 conv (conv2) and shortcut alike
    deep, deep_wide = built("resnet50"), built("resnet50", strides="1122")
    assert map_before_pooling(deep_wide) == (8, 8)
    assert parameter_count(deep) == parameter_count(deep_wide)


def test_a_strided_first_stage_gets_the_shortcut_it_needs():
    # ResNet-18's first stage keeps its width, so a stride there needs a new 1x1 shortcut
    model = build_model({"architecture": "resnet18", "strides": "2222"}, 7)
    assert map_before_pooling(model) == (2, 2)
    plain = build_model({"architecture": "resnet18"}, 7)
    assert parameter_count(model) - parameter_count(plain) == 64 * 64 + 2 * 64


def test_nearest_upsampling_repeats_pixels_inside_the_model():
    nearest = build_model({"architecture": "resnet18", "upsample": 2}, 7).net[0]
    bilinear = build_model(
        {"architecture": "resnet18", "upsample": 2, "upsample_mode": "bilinear"}, 7
    ).net[0]
    x = torch.rand(1, 3, 4, 4)
    assert torch.equal(nearest(x), x.repeat_interleave(2, -1).repeat_interleave(2, -2))
    assert not torch.allclose(bilinear(x), nearest(x))


def test_stride_digits_are_checked_and_last_stride_names_its_replacement():
    from robustsweep.input_errors import ConfigError
    from robustsweep.models.architectures import ARCHITECTURES
    from robustsweep.registry import StudyFacts

    with pytest.raises(ConfigError, match=r"'models.r.strides' is '1322'; it must be 4 digits"):
        ARCHITECTURES.spec({"architecture": "resnet18", "strides": "1322"}, "models.r")
    with pytest.raises(ConfigError, match=r"it must be 5 digits, each 1 or 2 \(e.g. '22222'\)"):
        ARCHITECTURES.spec({"architecture": "vgg16_bn", "strides": "1122"}, "models.v")
    spec = {"architecture": "resnet18", "strides": 1122}  # YAML's unquoted digits
    assert ARCHITECTURES.spec(spec, "models.r", StudyFacts(32)).strides == "1122"
    with pytest.raises(ConfigError) as error:
        ARCHITECTURES.spec({"architecture": "resnet18", "last_stride": 1}, "models.r")
    assert str(error.value) == (
        "config key 'models.r.last_stride' is now called 'strides' (one stride digit per stage, "
        "xu2024's --strides: last_stride 1 is strides '1221', 2 is the default '1222'); "
        "replace it"
    )


def test_preact_resnet18_is_he_et_als_pre_activation_network():
    from robustsweep.models.preact_blocks import PreActBlock

    model = build_model({"architecture": "preact_resnet18"}, 10)
    # by hand: stem 3*64*9; per block BN(in) + conv(in, out) + BN(out) + conv(out, out), plus a
    # 1x1 shortcut where the width changes; final BN(512); linear 512*10 + 10
    blocks = [(64, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256)]
    blocks += [(256, 512), (512, 512)]
    expected = 3 * 64 * 9 + 2 * 512 + 512 * 10 + 10
    for cin, cout in blocks:
        expected += 2 * cin + cin * cout * 9 + 2 * cout + cout * cout * 9
        expected += cin * cout if cin != cout else 0
    assert parameter_count(model) == expected == 11_172_170
    first = next(m for m in model.modules() if isinstance(m, PreActBlock))
    assert first.shortcut is None and isinstance(model.net.conv1, nn.Conv2d)
    assert map_before_pooling(build_model({"architecture": "preact_resnet18"}, 7)) == (4, 4)
    wide = build_model({"architecture": "preact_resnet18", "strides": "1122"}, 7)
    assert map_before_pooling(wide) == (8, 8)
    # pre-activation: a block's shortcut reads BN -> ReLU of its input, not the input itself
    block = PreActBlock(4, 8, 2).eval()
    x = torch.randn(1, 4, 6, 6)
    with torch.no_grad():
        residual = block.conv2(torch.relu(block.bn2(block.conv1(torch.relu(block.bn1(x))))))
        shortcut = block.shortcut(torch.relu(block.bn1(x)))
        # float32, the same operations regrouped: assert_close's float32 default (rtol 1.3e-6, atol
        # 1e-5) is a few ulps of these O(1) values
        torch.testing.assert_close(block(x), residual + shortcut)


def test_vgg16_bn_pool_strides_remove_pools():
    plain = build_model({"architecture": "vgg16_bn"}, 7)
    assert map_before_pooling(plain) == (1, 1)
    wide = build_model({"architecture": "vgg16_bn", "strides": "11222"}, 7)
    assert map_before_pooling(wide) == (4, 4)
    pools = [m for m in wide.net.features if isinstance(m, nn.MaxPool2d)]
    assert len(pools) == 3
    # xu2024's VGG16-BN has 14,922,826 parameters for 10 classes; 7 outputs drop 3 x 257
    assert parameter_count(plain) == parameter_count(wide) == 14_922_826 - 3 * 257
    sides = []
    for stage in feature_stages(wide):
        stage.register_forward_hook(lambda _m, _i, out: sides.append(out.shape[-1]))
    with torch.no_grad():
        wide.eval()(torch.rand(1, 3, 32, 32))
    assert sides == [32, 32, 16, 8, 4]


# Activation elements of one 32 px image (all leaf-module outputs) and parameters, from an
# independent count (a script of our research notes that builds the networks itself); its
# VGG has a Flatten module, torchvision flattens functionally: 512 elements fewer here.
DERIVED_COST = [
    ({"architecture": "resnet18"}, 1_851_914, "4x4"),
    ({"architecture": "resnet18", "strides": "1122"}, 4_260_362, "8x8"),
    ({"architecture": "resnet18", "strides": "1221"}, 2_195_978, "8x8"),
    ({"architecture": "resnet18", "strides": "1112"}, 8_389_130, "16x16"),
    ({"architecture": "resnet18", "upsample": 2}, 7_418_378, "8x8"),
    ({"architecture": "vgg16_bn"}, 863_242 - 512, "1x1"),
    ({"architecture": "vgg16_bn", "strides": "11222"}, 5_122_570 - 512, "4x4"),
    # AlexNet by hand: conv + ReLU + pool per site, convs 3-5 + ReLUs, global pool, head
    # (dropout 256, 512 x 5 for linear/ReLU/dropout/linear/ReLU, 10 logits = 2,826).
    # 2222: 2 x 64*16^2 + 64*8^2 + 2 x 192*8^2 + 192*4^2 + 2 x (384+256+256)*4^2 + 256*2^2 + 256
    (
        {"architecture": "alexnet"},
        2 * 64 * 256 + 64 * 64 + 2 * 192 * 64 + 192 * 16 + 2 * 896 * 16 + 1024 + 256 + 2826,
        "2x2",
    ),
    # 1122: 32 -> pool k2 s1 -> 31 -> 15 -> 7
    (
        {"architecture": "alexnet", "strides": "1122"},
        2 * 64 * 1024
        + 64 * 961
        + 2 * 192 * 961
        + 192 * 225
        + 2 * 896 * 225
        + 256 * 49
        + 256
        + 2826,
        "7x7",
    ),
]


@pytest.mark.parametrize(("spec", "elements", "side"), DERIVED_COST)
def test_feature_map_cost_matches_an_independent_count(spec, elements, side):
    from robustsweep.models.feature_map_cost import feature_map_cost

    model = build_model(spec, 10)
    cost = feature_map_cost(model, 32, torch.device("cpu"))
    assert (cost.activation_elements, cost.feature_map) == (elements, side)
    assert model.training  # measured in eval mode, the mode restored


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
        ("shufflenet_v2_x2_0", 5.37),  # the paper's 93.81 % model (chenyaofo: 5.37 M)
        ("repvgg_a2", 26.82),
    ],
)
def test_seed_002_models_take_32_pixel_images(architecture, millions):
    model = build_model({"architecture": architecture}, 10).eval()
    with torch.no_grad():
        assert model(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    # the published counts are printed to 0.01 M parameters
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


# xu2024's AlexNet (rcm models/alexnet.py) for 10 classes, counted by hand: conv1 5x5 3->64,
# conv2 5x5 64->192, conv3-5 3x3 192->384->256->256, linear 256->512->512->10, with biases
AUTHORS_ALEXNET = (
    (3 * 25 + 1) * 64
    + (64 * 25 + 1) * 192
    + (192 * 9 + 1) * 384
    + (384 * 9 + 1) * 256
    + (256 * 9 + 1) * 256
    + (256 + 1) * 512
    + (512 + 1) * 512
    + (512 + 1) * 10
)


@pytest.mark.parametrize(
    ("options", "side"),
    [({}, 2), ({"strides": "1122"}, 7), ({"strides": "1222"}, 4), ({"upsample": 2}, 4)],
)
def test_alexnet_is_the_authors_32_pixel_network_with_its_stride_sites(options, side):
    model = build_model({"architecture": "alexnet", **options}, 7)
    assert map_before_pooling(model) == (side, side)
    assert parameter_count(model) == AUTHORS_ALEXNET - 3 * 513  # 7 outputs, not 10
    # convs 2-5 are torchvision's: same shapes, hence parameters
    ours = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    theirs = [m for m in torchvision_alexnet().features if isinstance(m, nn.Conv2d)]
    assert [m.weight.shape for m in ours[1:]] == [m.weight.shape for m in theirs[1:]]


def torchvision_alexnet() -> nn.Module:
    """torchvision's AlexNet on the meta device: shapes and counts without 61 M values."""
    from torchvision.models import alexnet

    with torch.device("meta"):
        return alexnet(weights=None)


def test_alexnet_imagenet_stem_is_torchvisions_network():
    model = build_model({"architecture": "alexnet", "small_input_stem": False}, 1000)
    assert parameter_count(model) == parameter_count(torchvision_alexnet())
    assert map_before_pooling_of(model, 224) == (6, 6)  # torchvision's 6x6 pool
    halved = build_model(
        {"architecture": "alexnet", "small_input_stem": False, "strides": "1222"}, 1000
    )
    assert halved.net.features[0].stride == (2, 2)  # torchvision's 4, halved


def map_before_pooling_of(model: nn.Module, size: int) -> tuple[int, ...]:
    from robustsweep.models.feature_map_cost import feature_map_cost

    side = feature_map_cost(model, size, torch.device("cpu")).feature_map
    return tuple(int(n) for n in side.split("x"))


def test_alexnet_max_pooling_and_its_refusals():
    from robustsweep.input_errors import ConfigError
    from robustsweep.models.architectures import ARCHITECTURES

    model = build_model({"architecture": "alexnet", "pooling": "max"}, 7)
    assert any(isinstance(m, nn.AdaptiveMaxPool2d) for m in model.modules())
    assert not any(isinstance(m, nn.AdaptiveAvgPool2d) for m in model.modules())
    spec = {"architecture": "alexnet", "small_input_stem": False, "pooling": "max"}
    with pytest.raises(ConfigError, match=r"'models.a.pooling' is 'max', but torchvision's"):
        ARCHITECTURES.spec(spec, "models.a")
    with pytest.raises(ConfigError, match=r"'models.a.strides' is '122'; it must be 4 digits"):
        ARCHITECTURES.spec({"architecture": "alexnet", "strides": "122"}, "models.a")


# rcm's vitbase (lucidrains' ViT) for 10 classes, counted by hand: patch embedding 4*4*3 ->
# 512, class token, 65 position embeddings, 6 blocks of (2 LayerNorms, qkv without bias,
# output projection, MLP 512 -> 512 -> 512), final LayerNorm and the linear head
BLOCK = 2 * 2 * 512 + 512 * 3 * 512 + (512 + 1) * 512 + 2 * (512 + 1) * 512
AUTHORS_VIT = (48 + 1) * 512 + 512 + 65 * 512 + 6 * BLOCK + 2 * 512 + (512 + 1) * 10


def test_vit_cifar_has_the_authors_parameters():
    model = build_model({"architecture": "vit_cifar"}, 10)
    assert parameter_count(model) == AUTHORS_VIT


@pytest.mark.parametrize(
    ("options", "grid"),
    [({}, 8), ({"upsample": 2}, 16), ({"patch_size": 2}, 16), ({"pooling": "max"}, 8)],
)
def test_vit_token_grid_grows_with_upsampling_and_smaller_patches(options, grid):
    from robustsweep.models.feature_map_cost import feature_map_cost

    # one block instead of six keeps it fast; the embedding is what the options change
    model = build_model({"architecture": "vit_cifar", "depth": 1, **options}, 10)
    assert feature_map_cost(model, 32, torch.device("cpu")).feature_map == f"{grid}x{grid}"
    # more tokens, more position embeddings (512 each); a smaller patch, a smaller embedding
    patch = options.get("patch_size", 4)
    embedding_change = (grid**2 - 64) * 512 + (3 * patch**2 - 48) * 512
    assert parameter_count(model) == AUTHORS_VIT - 5 * BLOCK + embedding_change
    # attackable: the loss has a gradient with respect to the [0, 1] pixels
    images = torch.rand(2, 3, 32, 32, requires_grad=True)
    model.eval()
    nn.functional.cross_entropy(model(images), torch.tensor([0, 1])).backward()
    assert images.grad.abs().sum() > 0 and torch.isfinite(images.grad).all()


def test_vit_pools_as_asked_and_refuses_what_does_not_apply():
    from robustsweep.input_errors import ConfigError
    from robustsweep.models.architectures import ARCHITECTURES
    from robustsweep.registry import StudyFacts

    pools = {
        p: build_model({"architecture": "vit_cifar", "depth": 1, "pooling": p}, 10).net.global_pool
        for p in ("avg", "max", "token")
    }
    assert pools == {"avg": "avg", "max": "max", "token": "token"}
    with pytest.raises(ConfigError, match=r"'models.v.strides' does not apply to a ViT"):
        ARCHITECTURES.spec({"architecture": "vit_cifar", "strides": "1122"}, "models.v")
    with pytest.raises(ConfigError, match=r"'models.v.image_size' is 32, but dataset.image_s"):
        ARCHITECTURES.spec({"architecture": "vit_cifar"}, "models.v", StudyFacts(8))
    with pytest.raises(ConfigError, match=r"'models.v.patch_size' is 3, which does not divide"):
        ARCHITECTURES.spec({"architecture": "vit_cifar", "patch_size": 3}, "models.v")


def test_alexnet_gradient_reaches_the_pixels_through_every_modifier():
    images = torch.rand(2, 3, 32, 32, requires_grad=True)
    spec = {"architecture": "alexnet", "strides": "1122", "upsample": 2, "pooling": "max"}
    model = build_model(spec, 7).eval()
    nn.functional.cross_entropy(model(images), torch.tensor([0, 1])).backward()
    assert images.grad.abs().sum() > 0 and torch.isfinite(images.grad).all()
