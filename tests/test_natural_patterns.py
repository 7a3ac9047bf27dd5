import numpy as np
import pytest

from robustsweep.data.patterns import NATURAL_PATTERNS, apply_pattern
from robustsweep.data.patterns.grid_occlusion import grid_mask
from robustsweep.data.patterns.image_ops import motion_kernel


@pytest.fixture()
def digit():
    image = np.zeros((32, 32, 3), np.uint8)
    image[8:24, 14:18] = 255  # a bright vertical stroke, like a "1"
    return image


@pytest.mark.parametrize("name", NATURAL_PATTERNS.names())
def test_pattern_is_deterministic_per_seed_and_image(name, digit):
    a = apply_pattern(name, digit, 0.7, seed=0, index=3)
    assert a.dtype == np.uint8 and a.shape == digit.shape
    np.testing.assert_array_equal(a, apply_pattern(name, digit, 0.7, seed=0, index=3))
    assert not np.array_equal(a, digit)
    others = [apply_pattern(name, digit, 0.7, seed=s, index=i) for s, i in ((1, 3), (0, 4))]
    assert any(not np.array_equal(a, other) for other in others)


@pytest.mark.parametrize("name", NATURAL_PATTERNS.names())
def test_stronger_severity_moves_the_image_further(name, digit):
    def distance(severity):
        return np.mean(
            [
                np.abs(apply_pattern(name, digit, severity, 0, i).astype(float) - digit).mean()
                for i in range(8)
            ]
        )

    assert distance(0.9) > distance(0.1)


@pytest.mark.parametrize("coverage", [0.2, 0.35, 0.5])
def test_grid_mask_covers_the_configured_fraction(coverage):
    fractions = [grid_mask((96, 96), coverage, period, 0).mean() for period in (8, 10, 12)]
    # bars are whole pixels thick: rounding the thickness moves the covered fraction by up to
    # 0.0875 for these coverages and periods (deterministic integer arithmetic)
    assert np.allclose(fractions, coverage, atol=0.09)


def test_motion_kernel_is_a_normalised_line():
    kernel = motion_kernel(7, 0.0)
    # float sums of 7 taps: rounding only
    assert kernel.sum() == pytest.approx(1.0)
    assert np.count_nonzero(kernel) == 7 and np.count_nonzero(kernel[kernel.shape[0] // 2]) == 7


def test_low_object_ratio_shrinks_the_object(digit):
    out = apply_pattern("low_object_ratio", digit, 1.0, 0, 0)
    assert (out == 255).sum() < (digit == 255).sum()


def test_seven_patterns_of_the_paper_are_all_registered():
    groups = [
        {"defocus_blur", "motion_blur"},  # (1) image distortion
        {"low_object_ratio"},
        {"grid_occlusion"},
        {"background_interference"},
        {"deep_background_objects"},
        {"edge_interference"},
        {"light", "fog", "rain", "snow", "viewing_angle"},  # (7) environment
    ]
    assert set().union(*groups) <= set(NATURAL_PATTERNS.names())


def test_background_interference_leaves_the_object_box_alone(digit):
    from robustsweep.data.patterns.image_ops import central_box

    out = apply_pattern("background_interference", digit, 0.8, 0, 0)
    box = central_box(digit.shape, 0.6)
    np.testing.assert_array_equal(out[box], digit[box])
    outside = np.ones(digit.shape[:2], bool)
    outside[box] = False
    assert np.abs(out[outside].astype(float) - digit[outside]).mean() > 50


def test_deep_background_object_is_a_small_copy_in_one_corner(digit):
    out = apply_pattern("deep_background_objects", digit, 1.0, 0, 1)
    changed = np.any(out != digit, axis=-1)
    rows, cols = np.nonzero(changed)
    assert changed.any()
    side = int(np.ceil(0.45 * 32))  # the copy is at most 0.45 of each side, in a corner
    assert rows.max() < side or rows.min() >= 32 - side
    assert cols.max() < side or cols.min() >= 32 - side


def test_light_changes_exposure_but_not_where_things_are(digit):
    grey = (digit // 2 + 60).astype(np.uint8)  # away from the clip at 0 and 255
    out = apply_pattern("light", grey, 0.5, 0, 0).astype(float)
    assert np.corrcoef(out.ravel(), grey.ravel())[0, 1] > 0.999
    assert abs(out.mean() - grey.mean()) > 10


def test_fog_lowers_contrast_and_brightens(digit):
    out = apply_pattern("fog", digit, 0.8, 0, 0).astype(float)
    assert out.std() < 0.7 * digit.std()
    assert out[digit == 0].mean() > 60


def test_rain_streaks_are_near_vertical_lines():
    from scipy import ndimage

    black = np.zeros((64, 64, 3), np.uint8)
    streaks = apply_pattern("rain", black, 0.6, 0, 0).max(axis=-1) > 0
    labelled, count = ndimage.label(streaks)
    boxes = ndimage.find_objects(labelled)
    tall = [b for b in boxes if (b[0].stop - b[0].start) > (b[1].stop - b[1].start)]
    assert count >= 5 and len(tall) >= 0.8 * count


@pytest.mark.parametrize("severity", [0.2, 0.5])
def test_snow_covers_the_configured_share_with_white_flakes(severity):
    black = np.zeros((128, 128, 3), np.uint8)
    out = apply_pattern("snow", black, severity, 0, 0)
    assert set(np.unique(out).tolist()) == {0, 245}
    # Bernoulli(p <= 0.04) flakes over 128 x 128 pixels: standard error below 0.0016, so 0.01
    # is over 6 standard errors
    assert (out[..., 0] > 0).mean() == pytest.approx(0.01 + 0.06 * severity, abs=0.01)


def test_viewing_angle_turns_the_object(digit):
    np.testing.assert_array_equal(apply_pattern("viewing_angle", digit, 0.0, 0, 0), digit)

    def axis_angle(image):
        ys, xs = np.nonzero(image[..., 0] > 128)
        cov = np.cov(np.stack([xs, ys]))
        vx, vy = np.linalg.eigh(cov)[1][:, -1]
        return np.degrees(np.arctan2(abs(vx), abs(vy)))  # 0 = vertical

    assert axis_angle(digit) < 1
    assert axis_angle(apply_pattern("viewing_angle", digit, 1.0, 0, 0)) > 15
