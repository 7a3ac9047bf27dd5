"""Spread, not single numbers: mean, standard deviation and a 95 % confidence interval of a
metric over repeated runs (draws, seeds, trials), for every table and figure.

The interval is Student's t over the runs: mean ± t(0.975, n - 1) · sd / √n, with the sample
standard deviation (n - 1 in the denominator), what a reader of a paper's "mean ± sd over five
seeds" would compute. A proportion (accuracy, precision, recall, AUC, AP, consistency: the
names in PROPORTIONS) is bounded, and a t-interval on its own scale runs past 0 or 100 %
whenever runs are few or near a bound; its interval is the same t-interval computed on the
logit scale, logit(p) = ln(p / (1 - p)), and mapped back (the logit-t interval), so it always
lies inside the bounds. Runs at exactly 0 or 100 % have no logit: they enter as EDGE of the
range (0.05 % points) from the bound, half an image in 1,000. With 2 runs t(0.975, 1) = 12.7,
with 3 runs 4.30: two runs a few points apart give an interval spanning most of [0, 100],
which is what two runs can say. A loss (LOSSES, at least 0) gets the t-interval of its logs,
mapped back (the log-t interval), so it stays above 0. The mean and sd printed are the runs'
own (arithmetic).
One run has no spread: its interval is the value itself and nothing is printed beside it.
A difference between two defences is marked only where their intervals do not overlap
(`separated`), a deliberately conservative reading: non-overlapping 95 % intervals imply a
significant difference, overlapping ones do not imply the contrary.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

CONFIDENCE = 0.95
EDGE = 0.0005  # share of the range a run at a bound is moved in by before the logit
# metric columns that are shares of images (or areas under a curve): bounded by [0, 1]
PROPORTIONS = frozenset(
    {
        "accuracy",
        "accuracy_all_images",
        "precision",
        "recall",
        "auc",
        "ap",
        "consistency",
        "detector_accuracy",
        "train_accuracy",
        "huge_eps_accuracy",
        "zero_gradient_fraction",
    }
)
LOSSES = frozenset({"loss", "train_loss"})  # cross-entropies: at least 0, unbounded above
MARK = "†"  # beside a defence whose interval does not overlap its baseline's


@dataclass(frozen=True)
class Spread:
    """Mean, sample standard deviation, run count and t-interval of some values."""

    mean: float
    sd: float
    n: int
    low: float
    high: float

    def text(self, digits: int = 2) -> str:
        """`mean ± sd [low, high]`, or the bare mean for a single run."""
        if math.isnan(self.mean):
            return ""
        if self.n < 2:
            return f"{self.mean:.{digits}f}"
        return (
            f"{self.mean:.{digits}f} ± {self.sd:.{digits}f} "
            f"[{self.low:.{digits}f}, {self.high:.{digits}f}]"
        )


def spread(
    values: Iterable[float],
    confidence: float = CONFIDENCE,
    bounds: tuple[float, float] | None = None,
) -> Spread:
    """The spread of the finite values (NaN entries, cells a run does not have, are dropped).
    With `bounds` (a proportion's range: (0, 1), or (0, 100) in percent) the interval is the
    logit-t interval inside them (module docstring); without, the t-interval."""
    from scipy.stats import t

    array = np.asarray([v for v in values if v is not None], dtype=float)
    array = array[np.isfinite(array)]
    n = len(array)
    if n == 0:
        return Spread(math.nan, math.nan, 0, math.nan, math.nan)
    mean = float(array.mean())
    if n == 1:
        return Spread(mean, math.nan, 1, mean, mean)
    sd = float(array.std(ddof=1))
    factor = float(t.ppf((1 + confidence) / 2, n - 1)) / math.sqrt(n)
    if bounds is None:
        return Spread(mean, sd, n, mean - factor * sd, mean + factor * sd)
    if sd == 0:  # identical runs: no spread to transform (and the logit may be undefined)
        return Spread(mean, sd, n, mean, mean)
    low, high = bounds
    if math.isinf(high):  # a loss: at least `low`, no upper bound; the log-t interval
        logs = np.log(np.maximum(array - low, EDGE * max(sd, 1e-12)))
        centre, half = float(logs.mean()), factor * float(logs.std(ddof=1))
        return Spread(mean, sd, n, low + math.exp(centre - half), low + math.exp(centre + half))
    share = np.clip((array - low) / (high - low), EDGE, 1 - EDGE)
    logits = np.log(share / (1 - share))
    centre, half = float(logits.mean()), factor * float(logits.std(ddof=1))

    def back(x: float) -> float:
        return low + (high - low) / (1 + math.exp(-x))

    return Spread(mean, sd, n, back(centre - half), back(centre + half))


def t_interval(values: Iterable[float]) -> tuple[float, float]:
    """(low, high) of the 95 % t-interval: seaborn's `errorbar=` callable for a figure of an
    unbounded quantity (a loss)."""
    result = spread(values)
    return result.low, result.high


def percent_interval(values: Iterable[float]) -> tuple[float, float]:
    """(low, high) of the 95 % logit-t interval of values in percent: seaborn's `errorbar=`
    callable, so every accuracy figure draws the interval the tables print, inside [0, 100]."""
    result = spread(values, bounds=(0.0, 100.0))
    return result.low, result.high


def fraction_interval(values: Iterable[float]) -> tuple[float, float]:
    """As percent_interval, for values that are fractions in [0, 1]."""
    result = spread(values, bounds=(0.0, 1.0))
    return result.low, result.high


def separated(a: Spread, b: Spread) -> bool:
    """True when both have an interval (two or more runs) and the two do not overlap."""
    if a.n < 2 or b.n < 2:
        return False
    return a.high < b.low or b.high < a.low


def spread_table(
    rows: pd.DataFrame,
    index: list[str] | str,
    columns: list[str] | str,
    values: str,
    scale: float = 100.0,
    digits: int = 2,
    mark: str | None = None,
    bounds: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """A pivot of `values` (times `scale`) whose cells read `mean ± sd [95 % CI]` over the
    rows of each cell (one per run), or the bare value where a cell has one run. The
    interval is the logit-t one inside `bounds`, which default to (0, scale) for a column
    named in PROPORTIONS (the t-interval for anything else).

    With `mark` naming an index level (e.g. "defence"), a cell whose interval does not overlap
    that of the baseline entry of its group (the same other index values and column) gets
    MARK; the baseline is `standard` where the group has it, else its first entry.
    """
    index = [index] if isinstance(index, str) else list(index)
    columns = [columns] if isinstance(columns, str) else list(columns)
    if rows.empty:
        return pd.DataFrame()
    if bounds is None and values in PROPORTIONS:
        bounds = (0.0, scale)
    elif bounds is None and values in LOSSES:
        bounds = (0.0, math.inf)
    groups = {
        key: spread(group[values] * scale, bounds=bounds)
        for key, group in rows.groupby(index + columns, sort=True, dropna=False)
    }
    cells = pd.Series({key: result.text(digits) for key, result in groups.items()})
    cells.index = pd.MultiIndex.from_tuples(list(groups), names=index + columns)
    if mark is not None:
        cells = _mark_separated(cells, groups, index, columns, mark)
    table = cells.unstack(columns)
    if isinstance(table, pd.Series):  # no column levels left: one value column
        table = table.to_frame(values)
    return table.fillna("")


def _mark_separated(
    cells: pd.Series, groups: dict, index: list[str], columns: list[str], mark: str
) -> pd.Series:
    level = index.index(mark)
    names = index + columns
    baselines: dict[tuple, tuple] = {}
    for key in groups:
        peers = [k for k in groups if _without(k, level) == _without(key, level)]
        choices = [k for k in peers if k[level] == "standard"] or sorted(peers, key=str)
        baselines[key] = choices[0]
    marked = cells.copy()
    for key, result in groups.items():
        baseline = baselines[key]
        if baseline != key and separated(result, groups[baseline]):
            marked.loc[key] = f"{cells.loc[key]} {MARK}"
    marked.index = pd.MultiIndex.from_tuples(list(groups), names=names)
    return marked


def _without(key: tuple, position: int) -> tuple:
    return key[:position] + key[position + 1 :]


def spread_rows(
    table: pd.DataFrame, digits: int = 2, bounds: tuple[float, float] | None = None
) -> pd.DataFrame:
    """For a table with one row per run (draw, trial) and numeric columns: the rows as text,
    then `Mean`, `SD` and `95 % CI` rows (the papers print per-run rows and their mean); the
    interval is the logit-t one inside `bounds` where given (percentages: (0, 100))."""
    if table.empty:
        return table
    results = {column: spread(table[column], bounds=bounds) for column in table.columns}
    text = table.map(lambda v: "" if pd.isna(v) else f"{v:.{digits}f}")
    summary = pd.DataFrame(
        {
            column: {
                "Mean": f"{r.mean:.{digits}f}" if r.n else "",
                "SD": f"{r.sd:.{digits}f}" if r.n > 1 else "",
                "95 % CI": f"[{r.low:.{digits}f}, {r.high:.{digits}f}]" if r.n > 1 else "",
            }
            for column, r in results.items()
        }
    )
    return pd.concat([text, summary[table.columns]])


INTERVAL_WORDS = (
    "The interval of an accuracy, precision, recall, AUC or AP is the logit-t interval: "
    "Student's t over the runs' logits, mapped back, so it stays within 0 and 100 % (a run at "
    "exactly 0 or 100 % enters 0.05 points inside); a loss's is Student's t on the log scale, "
    "mapped back, so it stays above 0. "
    "With 2 runs t = 12.7 and with 3 runs t = 4.3: 2-3 runs leave it wide, often most of the "
    "range."
)
SPREAD_NOTE = (
    "Cells over several runs (draws) read mean ± standard deviation [95 % confidence "
    "interval]. " + INTERVAL_WORDS + "\n"
)
MARKED_NOTE = SPREAD_NOTE.rstrip("\n") + (
    f" {MARK} marks a defence whose interval does not overlap that of `standard` (or, without "
    "it, the first defence in alphabetical order) of the same model and column.\n"
)
