import numpy as np
import pytest

from robustsweep.natural_patterns import PATTERNS, apply_pattern, grid_mask, motion_kernel


@pytest.fixture()
def digit():
    image = np.zeros((32, 32, 3), np.uint8)
    image[8:24, 14:18] = 255  # a bright vertical stroke, like a "1"
    return image


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_pattern_is_deterministic_per_seed_and_image(name, digit):
    a = apply_pattern(name, digit, 0.7, seed=0, index=3)
    assert a.dtype == np.uint8 and a.shape == digit.shape
    np.testing.assert_array_equal(a, apply_pattern(name, digit, 0.7, seed=0, index=3))
    assert not np.array_equal(a, digit)
    others = [apply_pattern(name, digit, 0.7, seed=s, index=i) for s, i in ((1, 3), (0, 4))]
    assert any(not np.array_equal(a, other) for other in others)


@pytest.mark.parametrize("name", sorted(PATTERNS))
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
    assert np.allclose(fractions, coverage, atol=0.09)


def test_motion_kernel_is_a_normalised_line():
    kernel = motion_kernel(7, 0.0)
    assert kernel.sum() == pytest.approx(1.0)
    assert np.count_nonzero(kernel) == 7 and np.count_nonzero(kernel[kernel.shape[0] // 2]) == 7


def test_low_object_ratio_shrinks_the_object(digit):
    out = apply_pattern("low_object_ratio", digit, 1.0, 0, 0)
    assert (out == 255).sum() < (digit == 255).sum()
