"""Spread, not single numbers: mean, standard deviation and a 95 % confidence interval of a
metric over repeated runs (draws, seeds, trials), for every table and figure.

The interval is Student's t over the runs: mean ± t(0.975, n - 1) · sd / √n, with the sample
standard deviation (n - 1 in the denominator), what a reader of a paper's "mean ± sd over five
seeds" would compute. One run has no spread: its interval is the value itself and nothing is
printed beside it. A difference between two defences is marked only where their intervals do
not overlap (`separated`), a deliberately conservative reading: non-overlapping 95 % intervals
imply a significant difference, overlapping ones do not imply the contrary.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

CONFIDENCE = 0.95
MARK = "†"  # beside a defence whose interval does not overlap its reference's


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


def spread(values: Iterable[float], confidence: float = CONFIDENCE) -> Spread:
    """The spread of the finite values (NaN entries, cells a run does not have, are dropped)."""
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
    half = float(t.ppf((1 + confidence) / 2, n - 1)) * sd / math.sqrt(n)
    return Spread(mean, sd, n, mean - half, mean + half)


def t_interval(values: Iterable[float]) -> tuple[float, float]:
    """(low, high) of the 95 % t-interval: seaborn's `errorbar=` callable, so every figure
    draws the same interval the tables print."""
    result = spread(values)
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
) -> pd.DataFrame:
    """A pivot of `values` (times `scale`) whose cells read `mean ± sd [95 % CI]` over the
    rows of each cell (one per run), or the bare value where a cell has one run.

    With `mark` naming an index level (e.g. "defence"), a cell whose interval does not overlap
    that of the reference entry of its group (the same other index values and column) gets
    MARK; the reference is `standard` where the group has it, else its first entry.
    """
    index = [index] if isinstance(index, str) else list(index)
    columns = [columns] if isinstance(columns, str) else list(columns)
    if rows.empty:
        return pd.DataFrame()
    groups = {
        key: spread(group[values] * scale)
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
    references: dict[tuple, tuple] = {}
    for key in groups:
        peers = [k for k in groups if _without(k, level) == _without(key, level)]
        choices = [k for k in peers if k[level] == "standard"] or sorted(peers, key=str)
        references[key] = choices[0]
    marked = cells.copy()
    for key, result in groups.items():
        reference = references[key]
        if reference != key and separated(result, groups[reference]):
            marked.loc[key] = f"{cells.loc[key]} {MARK}"
    marked.index = pd.MultiIndex.from_tuples(list(groups), names=names)
    return marked


def _without(key: tuple, position: int) -> tuple:
    return key[:position] + key[position + 1 :]


def spread_rows(table: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """For a table with one row per run (draw, trial) and numeric columns: the rows as text,
    then `Mean`, `SD` and `95 % CI` rows (the papers print per-run rows and their mean)."""
    if table.empty:
        return table
    results = {column: spread(table[column]) for column in table.columns}
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


SPREAD_NOTE = (
    "Cells over several runs (draws) read mean ± standard deviation [95 % confidence "
    "interval, t-distribution over the runs].\n"
)
MARKED_NOTE = SPREAD_NOTE.rstrip("\n") + (
    f" {MARK} marks a defence whose interval does not overlap that of `standard` (or, without "
    "it, the first defence in alphabetical order) of the same model and column.\n"
)
