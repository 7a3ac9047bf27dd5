"""Mean ± sd and the 95 % t-interval of the tables and figures, against a hand computation and
scipy.stats, and the overlap rule that marks a difference between two defences."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from robustsweep.reporting.spread import (
    EDGE,
    MARK,
    separated,
    spread,
    spread_rows,
    spread_table,
    t_interval,
)


def test_spread_of_three_runs_by_hand():
    # values 90, 92, 97: mean 93, sd sqrt(((-3)^2 + (-1)^2 + 4^2) / 2) = sqrt(13);
    # t(0.975, 2) = 4.302653 (printed t tables), half width 4.302653 * sqrt(13) / sqrt(3)
    result = spread([90, 92, 97])
    assert result.mean == 93 and result.n == 3
    # float64 on both sides: approx's default rel 1e-6
    assert result.sd == pytest.approx(math.sqrt(13))
    half = 4.302653 * math.sqrt(13) / math.sqrt(3)
    # t(0.975, 2) is printed to 7 digits above: 1e-5 covers its last digit times sqrt(13 / 3)
    assert (result.low, result.high) == pytest.approx((93 - half, 93 + half), abs=1e-5)
    assert result.text(1) == f"93.0 ± 3.6 [{93 - half:.1f}, {93 + half:.1f}]"


@pytest.mark.parametrize("n", [2, 5, 12])
def test_interval_is_scipys_t_interval(n):
    values = np.random.default_rng(n).normal(80, 3, n)
    expected = stats.t.interval(
        0.95, n - 1, loc=values.mean(), scale=stats.sem(values)
    )  # sem uses ddof=1
    # float64 on both sides (scipy): approx's default rel 1e-6
    assert t_interval(values) == pytest.approx(expected)


def test_one_run_has_no_spread_and_missing_values_are_dropped():
    one = spread([0.5, float("nan")])
    assert one.n == 1 and (one.low, one.high) == (0.5, 0.5) and one.text() == "0.50"
    assert spread([]).text() == ""


def test_only_non_overlapping_intervals_are_separated():
    low, high = spread([10, 11, 12]), spread([20, 21, 22])
    assert separated(low, high) and separated(high, low)
    wide = spread([10, 15, 22])
    assert not separated(wide, high)
    assert not separated(spread([10]), spread([20]))  # single runs have no interval


def test_spread_table_marks_defences_apart_from_standard():
    rows = pd.DataFrame(
        {
            "model": ["m"] * 9,
            "defence": ["standard"] * 3 + ["at"] * 3 + ["noisy"] * 3,
            "test_set": ["clean"] * 9,
            "accuracy": [0.10, 0.11, 0.12, 0.40, 0.41, 0.42, 0.05, 0.30, 0.60],
        }
    )
    table = spread_table(rows, ["model", "defence"], "test_set", "accuracy", mark="defence")
    cells = table["clean"]
    assert cells[("m", "at")].endswith(MARK)
    assert not cells[("m", "noisy")].endswith(MARK)  # its interval covers standard's
    assert not cells[("m", "standard")].endswith(MARK)
    assert cells[("m", "standard")].startswith("11.00 ± 1.00 [")


def test_spread_rows_append_mean_sd_and_interval():
    runs = pd.DataFrame({3: [20.0, 30.0], 5: [10.0, float("nan")]}, index=["draw 0", "draw 1"])
    table = spread_rows(runs)
    assert list(table.index) == ["draw 0", "draw 1", "Mean", "SD", "95 % CI"]
    assert table.loc["Mean", 3] == "25.00" and table.loc["SD", 3] == f"{math.sqrt(50):.2f}"
    low, high = stats.t.interval(0.95, 1, loc=25, scale=math.sqrt(50) / math.sqrt(2))
    assert table.loc["95 % CI", 3] == f"[{low:.2f}, {high:.2f}]"
    assert table.loc["Mean", 5] == "10.00" and table.loc["SD", 5] == ""


# -- proportions: the logit-t interval stays inside [0, 100] ------------------------------------


@pytest.mark.parametrize(
    "values",
    [[20.37 + 9.0, 20.37 - 9.0], [98.0, 99.5, 100.0], [0.0, 3.0], [40.0, 55.0, 61.0, 47.0]],
)
def test_proportion_interval_is_scipys_t_interval_on_the_logit_scale(values):
    result = spread(values, bounds=(0.0, 100.0))
    share = np.clip(np.asarray(values) / 100, EDGE, 1 - EDGE)
    logits = np.log(share / (1 - share))
    low, high = stats.t.interval(0.95, len(values) - 1, loc=logits.mean(), scale=stats.sem(logits))
    expected = (100 * special.expit(low), 100 * special.expit(high))
    # same float64 computation by two routes: rounding-size tolerance
    assert (result.low, result.high) == pytest.approx(expected, rel=1e-9)
    assert 0 < result.low <= result.mean <= result.high < 100
    assert result.mean == pytest.approx(np.mean(values), rel=1e-12)  # the runs' own mean


def test_the_issues_intervals_now_stay_inside_0_and_100():
    # tables.md printed 20.37 ± 9.92 [-4.26, 45.00] and 98.61 ± 0.73 [96.79, 100.44]
    for values in ([13.35, 27.39], [98.09, 99.13]):
        plain, bounded = spread(values), spread(values, bounds=(0.0, 100.0))
        assert plain.low < 0 or plain.high > 100
        assert 0 <= bounded.low < bounded.high <= 100


def test_identical_runs_at_a_bound_have_a_point_interval():
    result = spread([100.0, 100.0, 100.0], bounds=(0.0, 100.0))
    assert (result.low, result.high) == (100.0, 100.0)


def test_spread_table_bounds_proportions_and_not_losses():
    rows = pd.DataFrame({"model": ["m"] * 2, "set": ["a"] * 2, "accuracy": [0.9, 1.0]})
    cell = spread_table(rows, "model", "set", "accuracy").loc["m", "a"]
    low, high = (float(v) for v in cell.split("[")[1].rstrip("]").split(", "))
    assert low >= 0 and high <= 100
    losses = pd.DataFrame({"model": ["m"] * 2, "set": ["a"] * 2, "loss": [0.0020, 0.0140]})
    cell = spread_table(losses, "model", "set", "loss", scale=1, digits=4).loc["m", "a"]
    low, high = (float(v) for v in cell.split("[")[1].rstrip("]").split(", "))
    assert spread([0.0020, 0.0140]).low < 0  # the plain t-interval would not
    assert spread([0.0020, 0.0140], bounds=(0.0, math.inf)).low > 0 and low >= 0
    logs = np.log([0.0020, 0.0140])
    expected = stats.t.interval(0.95, 1, loc=logs.mean(), scale=stats.sem(logs))
    # printed to 4 digits: half a unit of the last digit
    assert (low, high) == pytest.approx(np.exp(expected), abs=5e-5)
    assert high > 1  # two runs: t = 12.7 on the log scale, wide above
