"""A paper's published numbers as data, where each lands in our tidy metric table, and how
close ours come (the "Reproduction" section of tables.md).

One YAML file per study, beside its config (`studies/<study>.paper.yaml`), named by the
study's `reproduction.paper_numbers`. It mirrors the paper's tables, so each value can be
checked against the printout by eye:

    paper: Zhu et al. 2025, ...             # who published the numbers
    tables:
      - table: Table 3                      # the paper's name for the table
        title: VGG16, accuracy (%) against predicted classes M
        unit: percent                       # how the paper prints values: percent | fraction
        cited_from: ...                     # optional: where the numbers come from, if not
                                            #   the paper's own text (a repository README)
        note: ...                           # optional: about the whole table
        select: {model: vgg16, test_set: natural, metric: accuracy_all_images}
        rows:                               # row label as printed -> selector keys it adds
          1st test: {trial: 0}
          Mean value: {}                    # no trial: the mean over the matching rows
        columns:                            # column label as printed -> selector keys
          "20": {predicted_classes: 20}
        values:                             # per row, one value per column, as printed;
          1st test: [2.96]                  #   null where the paper's cell is empty
          Mean value: [2.87]
        notes:                              # "<row>", "<column>" or "<row> / <column>" ->
          Mean value / 20: ...              #   why the printout is odd (shown as a footnote)

A selector picks rows of the tidy metric table (reporting/metric_table.py) by `model`,
`defence` (default standard), `test_set` (a name or a list: the mean over them), `pattern`
(default all; a corruption of the `corrupted` set), `severity` (1-5, of the `corrupted` set;
default: its severities pooled), `train_classes` (default: the class pool), `predicted_classes`
(default: N), `draw`, `trial`, and names the `metric` column; our number is the mean over our
runs (draw, trial) of that column, each run's value the mean over its matching rows (a list of
test sets), so leaving out `draw`/`trial` averages draws and trials, as the papers' "mean" rows
do, and the runs give the verdict's interval. Table, row and column selectors are merged in
that order. Besides the test metrics, `train_accuracy` and `train_loss` (the last epoch's, from
the run's epochs.csv) can be named. A row or column the study cannot measure (a setting such as
the epochs, an attack it does not run) is `null`, and its note says why: listed, never judged.

Besides the mirror of the printout, a file says what a verdict needs to know (`judge` below
states the rule):

    dataset: {source: cifar10}              # the paper's data, as the study's `dataset` keys
                                            #   spell them; `reproduction.compare: auto` (the
                                            #   default) judges only a study whose dataset
                                            #   has every one of these values
    tables:
      - table: Table 3
        mean_of: {Mean value: [1st test, 2nd test, 3rd test]}
                                            # the paper's mean row and the per-run rows it
                                            #   averages: their spread widens the verdict
        exact: ["200"]                      # rows, columns or "<row> / <column>" cells (or
                                            #   true: the whole table) whose value has no
                                            #   run-to-run randomness (published weights on a
                                            #   fixed test set, every class): judged on one run
        not_comparable:                     # knowingly approximate (other attacks or data
          AEs: GAN images vs our stored attacks   #   than the paper's): shown, never judged;
                                            #   a label or cell -> reason, or one reason for
                                            #   the whole table

Every number is compared in percentage points of the metric (fractions x 100), so one
tolerance serves tables printed in percent and in fractions. The file is checked against the
study's config before any job (an unknown model, defence, test set or metric is one line
naming the cell); a selector that matches no run of the study (a trimmed smoke study) makes
the number "not run". Torch- and pandas-free at import: the Snakefile validates with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from robustsweep.config_schema import validate
from robustsweep.input_errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

WORKFLOW_FOLDER = Path(__file__).resolve().parents[3]  # the checkout: Snakefile, studies/
UNITS = {"percent": 100.0, "fraction": 1.0}  # printed value / UNITS[unit] = the metric
# metric columns a published number can be compared with (evaluation/run_evaluation.py)
METRICS = (
    "accuracy",
    "accuracy_all_images",
    "precision",
    "recall",
    "auc",
    "ap",
    "consistency",
    "detector_accuracy",
    "train_accuracy",  # the last epoch's, on every row of the run (ho2024's Table 2)
    "train_loss",
)
REPRODUCED, MISSED, NOT_RUN, NOT_MEASURED = "reproduced", "missed", "not run", "not measured"
SINGLE_RUN = "single run, not judged"  # one draw/trial: no interval, so no verdict
INCONCLUSIVE = "inconclusive"  # the paper's value inside an interval wider than the margin
NOT_COMPARABLE = "not comparable"  # the file marks the protocol as knowingly approximate
JUDGED = (REPRODUCED, MISSED)  # the verdicts the headline counts
INTERVAL_SHOWN = (*JUDGED, INCONCLUSIVE)  # the statuses that print the half-width
CONFIDENCE = 0.95
RELATIVE_FLOOR = 0.1  # reproduction.relative_floor's default (config.schema.yaml)

_SELECTOR = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "model": {"type": "string"},
        "defence": {"type": "string"},
        "test_set": {
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}, "minItems": 1},
            ]
        },
        "pattern": {"type": "string"},
        "severity": {"type": "integer", "minimum": 1, "maximum": 5},
        "train_classes": {"type": "integer", "minimum": 2},
        "predicted_classes": {"type": "integer", "minimum": 2},
        "draw": {"type": "integer", "minimum": 0},
        "trial": {"type": "integer", "minimum": 0},
        "metric": {"enum": list(METRICS)},
    },
}
_LABELLED = {"type": "object", "additionalProperties": {"anyOf": [_SELECTOR, {"type": "null"}]}}
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["paper", "tables"],
    "properties": {
        "paper": {"type": "string"},
        "note": {"type": "string"},
        "tables": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["table", "unit", "rows", "columns", "values"],
                "properties": {
                    "table": {"type": "string"},
                    "title": {"type": "string"},
                    "unit": {"enum": list(UNITS)},
                    "cited_from": {"type": "string"},
                    "note": {"type": "string"},
                    "select": _SELECTOR,
                    "rows": {**_LABELLED, "minProperties": 1},
                    "columns": {**_LABELLED, "minProperties": 1},
                    "values": {
                        "type": "object",
                        "additionalProperties": {
                            "type": "array",
                            "items": {"type": ["number", "null"]},
                        },
                    },
                    "notes": {"type": "object", "additionalProperties": {"type": "string"}},
                    "mean_of": {
                        "type": "object",
                        "additionalProperties": {
                            "type": "array",
                            "items": {"type": "string"},
                            "minItems": 2,
                        },
                    },
                    "exact": {
                        "anyOf": [
                            {"const": True},
                            {"type": "array", "items": {"type": "string"}, "minItems": 1},
                        ]
                    },
                    "not_comparable": {
                        "anyOf": [
                            {"type": "string", "minLength": 1},
                            {
                                "type": "object",
                                "additionalProperties": {"type": "string", "minLength": 1},
                            },
                        ]
                    },
                },
            },
        },
        "dataset": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {"type": ["string", "array"]},
        },
    },
}


@dataclass(frozen=True)
class PaperNumber:
    """One published number: where the paper prints it, the value as printed, and the rows
    of our metric table it compares with (None: the study does not measure it)."""

    table: str
    row: str
    column: str
    value: float
    unit: str
    select: dict | None
    notes: tuple[str, ...] = ()
    paper_runs: tuple[float, ...] = ()  # a mean's per-run rows as printed (`mean_of`)
    exact: bool = False  # no run-to-run randomness: judged on a single run (`exact`)
    not_comparable: str = ""  # why the protocol is knowingly approximate (never judged)

    @property
    def metric_value(self) -> float:
        """The printed value on the metric's own scale (a fraction for accuracies)."""
        return self.value / UNITS[self.unit]


@dataclass(frozen=True)
class PaperTable:
    """A table of the paper: its heading and its numbers, in the printed order."""

    table: str
    title: str
    unit: str
    cited_from: str
    note: str
    numbers: tuple[PaperNumber, ...]


@dataclass(frozen=True)
class PaperNumbers:
    """Everything one paper-numbers file holds."""

    paper: str
    note: str
    tables: tuple[PaperTable, ...]
    file: str  # as the config names it, for messages and the report
    dataset: dict | None = None  # the paper's data, in the study's `dataset` keys

    def numbers(self) -> list[PaperNumber]:
        return [number for table in self.tables for number in table.numbers]


# -- reading and checking ------------------------------------------------------------------


def resolve(path: str) -> Path:
    """The paper-numbers file a config names: absolute as given; relative in the working
    folder, else in the workflow's folder (where `studies/` lives), so a study runs with
    `-d elsewhere` too."""
    given = Path(path)
    for candidate in (given, WORKFLOW_FOLDER / given):
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"paper numbers file '{path}' (config key 'reproduction.paper_numbers') is neither in "
        f"the working folder nor in {WORKFLOW_FOLDER}; point the key at the study's "
        ".paper.yaml or remove it"
    )


def load_paper_numbers(path: Path, name: str | None = None) -> PaperNumbers:
    """Read and check a paper-numbers file's structure; one-line ConfigError naming the file
    and the cell otherwise."""
    name = name or str(path)
    try:
        data = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as error:
        reason = str(error).splitlines()[0]
        raise ConfigError(f"paper numbers '{name}' is not valid YAML ({reason}); fix it") from None
    try:
        validate(data, SCHEMA)
    except ConfigError as error:
        raise ConfigError(f"paper numbers '{name}': {_file_words(str(error))}") from None
    tables = tuple(_table(entry, name) for entry in data["tables"])
    return PaperNumbers(data["paper"], data.get("note", ""), tables, name, data.get("dataset"))


def _file_words(message: str) -> str:
    """A schema message about the file, which is not the study config."""
    return message.replace("unknown config key", "unknown key").replace("config key", "key")


def _table(entry: dict, name: str) -> PaperTable:
    where = f"paper numbers '{name}', {entry['table']}"
    # labels as printed; YAML reads an unquoted 20 as a number
    rows, columns, values, notes = (
        {str(label): value for label, value in entry.get(key, {}).items()}
        for key in ("rows", "columns", "values", "notes")
    )
    if set(values) != set(rows):
        missing = sorted(set(rows) - set(values)) or sorted(set(values) - set(rows))
        raise ConfigError(
            f"{where}: 'values' must hold one list per row of 'rows'; "
            f"{'missing' if set(rows) - set(values) else 'unknown'} row(s): {', '.join(missing)}"
        )
    exact = entry.get("exact", [])
    not_comparable = entry.get("not_comparable", {})
    for what, labels in (
        ("note", notes),
        ("exact", [] if exact is True else exact),
        ("not_comparable", {} if isinstance(not_comparable, str) else not_comparable),
    ):
        for key in map(str, labels):
            _check_label(where, what, key, rows, columns)
    mean_of = {str(row): [str(r) for r in runs] for row, runs in entry.get("mean_of", {}).items()}
    for mean, runs in mean_of.items():
        unknown = [label for label in [mean, *runs] if label not in rows]
        if unknown:
            raise ConfigError(
                f"{where}: 'mean_of' names row(s) the table does not have: "
                f"{', '.join(unknown)}; use the labels as 'rows' spells them"
            )
    for label, selector in [*rows.items(), *columns.items()]:
        if selector is None and label not in notes:
            raise ConfigError(
                f"{where}: '{label}' is null (not measured by this study) but has no note; "
                "add one under 'notes' saying why"
            )
    numbers = []
    for row, printed in values.items():
        if len(printed) != len(columns):
            raise ConfigError(
                f"{where}, row '{row}': {len(printed)} value(s) for {len(columns)} column(s) "
                f"({', '.join(columns)}); give one per column, null for an empty cell"
            )
        for column, value in zip(columns, printed, strict=True):
            if value is None:
                continue
            select = _merged(entry.get("select", {}), rows[row], columns[column])
            if select is not None and "metric" not in select:
                raise ConfigError(
                    f"{where}, row '{row}', column '{column}': no 'metric' in the table's, "
                    "row's or column's selector; name the metric column it compares with"
                )
            keys = (row, column, f"{row} / {column}")
            cell_notes = tuple(notes[k] for k in keys if k in notes)
            runs = [values[r][list(columns).index(column)] for r in mean_of.get(row, [])]
            numbers.append(
                PaperNumber(
                    entry["table"],
                    row,
                    column,
                    value,
                    entry["unit"],
                    select,
                    cell_notes,
                    paper_runs=tuple(v for v in runs if v is not None),
                    exact=exact is True or any(str(k) in keys for k in exact),
                    not_comparable=_reason(not_comparable, keys),
                )
            )
    return PaperTable(
        entry["table"],
        entry.get("title", ""),
        entry["unit"],
        entry.get("cited_from", ""),
        entry.get("note", ""),
        tuple(numbers),
    )


def _check_label(where: str, what: str, key: str, rows: dict, columns: dict) -> None:
    """A note's, `exact`'s or `not_comparable`'s label names a row, a column or a cell."""
    row, _, column = (part.strip() for part in key.partition(" / "))
    if not (key in rows or key in columns or (row in rows and column in columns and column)):
        raise ConfigError(
            f"{where}: {what} '{key}' names no row, column or '<row> / <column>' cell of the "
            "table; use the labels as 'rows' and 'columns' spell them"
        )


def _reason(not_comparable: str | dict, keys: tuple[str, ...]) -> str:
    """Why a cell is not comparable: the table's reason, else its row's, column's or own."""
    if isinstance(not_comparable, str):
        return not_comparable
    given = {str(label): reason for label, reason in not_comparable.items()}
    return next((given[k] for k in keys if k in given), "")


def _merged(*selectors: dict | None) -> dict | None:
    if any(selector is None for selector in selectors):
        return None
    merged: dict = {}
    for selector in selectors:
        merged.update(selector)
    return merged


def check_against_config(paper: PaperNumbers, config: dict) -> None:
    """Every selector names a model, defence, test set and metric the study defines (one line
    naming the cell otherwise). Which N, M, draw or trial the study runs is not checked: a
    trimmed study (a smoke overlay) reports those numbers as not run."""
    from robustsweep.evaluation.evaluated_sets import configured_test_sets

    known = {
        "model": sorted(config["models"]),
        "defence": sorted(config["defences"]),
        "test_set": configured_test_sets(config),
    }
    for number in paper.numbers():
        if number.select is None:
            continue
        for key, allowed in known.items():
            given = number.select.get(key, "standard" if key == "defence" else None)
            if given is None:
                raise ConfigError(
                    f"paper numbers '{paper.file}', {number.table}, row '{number.row}', column "
                    f"'{number.column}': no '{key}' in its selectors; add one"
                )
            for name in [given] if isinstance(given, str) else given:
                if name not in allowed:
                    raise ConfigError(
                        f"paper numbers '{paper.file}', {number.table}, row '{number.row}', "
                        f"column '{number.column}': {key} '{name}' is not one of the study's "
                        f"{'test sets' if key == 'test_set' else key + 's'}; allowed values: "
                        f"{', '.join(allowed)}"
                    )


def study_paper_numbers(config: dict) -> PaperNumbers | None:
    """The validated config's paper numbers, checked against it; None if it names none."""
    name = config["reproduction"].get("paper_numbers")
    if name is None:
        return None
    paper = load_paper_numbers(resolve(name), name)
    check_against_config(paper, config)
    return paper


# -- comparing with a study's metrics ---------------------------------------------------------


def selected_rows(metrics: pd.DataFrame, select: dict, pool_size: int) -> pd.DataFrame:
    """The metric rows a selector picks (module docstring: keys and defaults)."""
    n = select.get("train_classes", pool_size)
    test_sets = select["test_set"]
    rows = metrics[
        (metrics.model == select["model"])
        & (metrics.defence == select.get("defence", "standard"))
        & metrics.test_set.isin([test_sets] if isinstance(test_sets, str) else test_sets)
        & (metrics.pattern == select.get("pattern", "all"))
        & (metrics.train_classes == n)
        & (metrics.predicted_classes == select.get("predicted_classes", n))
    ]
    if "severity" in metrics:  # corrupted set: one severity, or (by default) all pooled
        severity = metrics.severity.loc[rows.index]
        rows = rows[severity == select["severity"] if "severity" in select else severity.isna()]
    for key in ("draw", "trial"):
        if key in select:
            rows = rows[rows[key] == select[key]]
    return rows


def run_values(metrics: pd.DataFrame, select: dict, pool_size: int) -> list[float]:
    """The selected metric per run (draw, trial), each the mean over the run's matching rows
    (a list of test sets averages within the run): the sample the verdict's interval is over."""
    rows = selected_rows(metrics, select, pool_size)
    rows = rows[rows[select["metric"]].notna()]
    keys = [key for key in ("draw", "trial") if key in rows]
    if rows.empty:
        return []
    if not keys:
        return [float(rows[select["metric"]].mean())]
    return [float(v) for v in rows.groupby(keys)[select["metric"]].mean()]


# -- the verdict ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """One cell's verdict: the status, our runs' count and mean, the half-width (in
    percentage points) of the interval around our mean that the paper's value had to fall in,
    and the margin it had to be no wider than (NaN where nothing was judged)."""

    status: str
    n: int
    ours: float  # the metric's own scale
    half_width: float  # percentage points
    margin: float = math.nan  # percentage points


def judge(
    runs: list[float],
    paper: float,
    *,
    paper_runs: list[float] | tuple[float, ...] = (),
    tolerance: float,
    relative_floor: float = RELATIVE_FLOOR,
    exact: bool = False,
) -> Verdict:
    """Is the paper's value (the metric's scale) inside our interval, and is that interval
    narrow enough to say so? Three outcomes, in the style of an equivalence test:

    1. Our interval is Student's t over our n runs (draws/trials) of the cell: mean ± t(0.975,
       n - 1) · sd / sqrt(n), the interval every table prints (reporting/spread.py).
    2. Where the paper publishes the runs its printed mean averages (`paper_runs`: n_p >= 2
       rows, e.g. zhu2025's three trials), our interval is widened by the paper's own
       sampling error: the half-width is Welch's, t(0.975, v) · sqrt(sd^2/n + sd_p^2/n_p),
       with the Welch-Satterthwaite degrees of freedom v. The paper's value inside it is
       exactly "Welch's two-sample t-test does not reject equal means at 5 %" (tested against
       scipy.stats.ttest_ind_from_stats); without paper runs it is the one-sample t-test of our
       runs against the paper's value. Welch, not a sum of the two half-widths, because the
       two means are independent estimates: their difference has variance sd^2/n + sd_p^2/n_p.
    3. The margin m = min(tolerance, relative_floor x |paper|), in percentage points, says
       how close counts as the same number. The tolerance alone would let a small value pass
       anything near it (a training loss of 0.004 against our 0.024 is 2 points off: inside a
       2-point tolerance); capped at a fraction of the paper's value it asks small numbers
       for the same relative precision as large ones. m is the interval's floor (runs that
       happen to agree closely, or an `exact` cell, are not asked for more precision than two
       implementations can share) and its ceiling:
       - REPRODUCED: the paper's value inside the interval, and the interval no wider than
         ±m (its half-width is then m): our mean is within m of the paper's and the data
         rule out, at 95 %, a true difference over 2m;
       - MISSED: the paper's value outside the interval (at least ±m wide): the t-test
         rejects equal means, or the gap exceeds the margin;
       - INCONCLUSIVE: inside, but the interval is wider than ±m. Failing to reject is not
         reproducing: with two runs t(0.975, 1) = 12.7, so two runs 2 points apart span
         ±12.7 points and would "reproduce" almost anything. More runs (or less spread) decide.
       The ceiling is m itself, not a second, looser bound: any ceiling above m lets a cell
       whose mean is further than m from the paper's reproduce (the loss of 0.024 against
       0.004 would pass with an interval of ±2 points). A strict two one-sided test (TOST) at
       m would ask |difference| + half-width <= m, which three seeds of a network rarely
       give; this rule asks each of the two to be at most m.
    4. A single run (n = 1) has no interval: not judged (SINGLE_RUN), unless the cell is
       `exact` (no run-to-run randomness: published weights on a fixed test set), where the
       margin alone is the interval. No run at all: NOT_RUN.
    """
    from scipy.stats import t

    ours = [v for v in runs if math.isfinite(v)]
    n = len(ours)
    if n == 0:
        return Verdict(NOT_RUN, 0, math.nan, math.nan)
    mean = sum(ours) / n
    if n == 1 and not exact:
        return Verdict(SINGLE_RUN, 1, mean, math.nan)
    parts = [_variance_of_mean(ours), _variance_of_mean(list(paper_runs))]
    variance = sum(var for var, _ in parts)
    if variance > 0:
        # Welch-Satterthwaite; a part without spread adds nothing to either sum
        dof = variance**2 / sum(var**2 / df for var, df in parts if var > 0)
        statistical = float(t.ppf((1 + CONFIDENCE) / 2, dof)) * math.sqrt(variance)
    else:
        statistical = 0.0
    margin = min(tolerance, relative_floor * abs(paper) * 100)
    half_width = max(statistical, margin)
    if abs(mean - paper) * 100 > half_width + 1e-9:
        status = MISSED
    elif half_width > margin + 1e-9:
        status = INCONCLUSIVE
    else:
        status = REPRODUCED
    return Verdict(status, n, mean, half_width, margin)


def _variance_of_mean(values: list[float]) -> tuple[float, int]:
    """(sd^2 / n in squared percentage points, n - 1) of some runs; (0, 0) for fewer than 2."""
    n = len(values)
    if n < 2:
        return 0.0, 0
    mean = sum(values) / n
    variance = sum((v - mean) ** 2 for v in values) / (n - 1) * 100**2
    return variance / n, n - 1


def comparison_off(paper: PaperNumbers | None, config: dict) -> str:
    """Why the study's numbers are not judged against the paper's ('' when they are):
    `reproduction.compare: false`, or (`auto`, the default) a study dataset that is not the
    paper's (the file's `dataset` keys against the study's `dataset` section: the digits or
    a toy tree in place of CIFAR-10 or ImageNet). `compare: true` judges whatever the data."""
    setting = config["reproduction"].get("compare", "auto")
    if setting is True or paper is None:
        return ""
    if setting is False:
        return "`reproduction.compare: false`"
    if not paper.dataset:
        return (
            f"`{paper.file}` names no `dataset`, so whether the study's data are the paper's "
            "is unknown; add it, or set `reproduction.compare: true`"
        )
    for key, theirs in paper.dataset.items():
        ours = config["dataset"].get(key)
        if ours != theirs:
            return (
                f"the study's `dataset.{key}` is {_shown(ours)}, the paper's {_shown(theirs)}: "
                "not the paper's data; `reproduction.compare: true` judges anyway"
            )
    return ""


def _shown(value) -> str:
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return f"`{value}`"


def compare(
    metrics: pd.DataFrame,
    paper: PaperNumbers,
    pool_size: int,
    tolerance: float,
    relative_floor: float = RELATIVE_FLOOR,
) -> pd.DataFrame:
    """One row per published number: ours (the mean over our runs) and the paper's, both as
    printed in the paper's unit, our runs' count `n` and 95 % interval (`low`, `high`, as
    printed, the tables' interval: logit-t inside the bounds for a proportion; NaN for one
    run), the difference in percentage points, and the verdict (`judge`:
    reproduced / missed / inconclusive, with the half-width it allowed and the margin), or why
    there is none (single run, not comparable, not run, not measured)."""
    import pandas as pd

    from robustsweep.reporting.spread import PROPORTIONS, spread

    records = []
    for number in paper.numbers():
        runs = [] if number.select is None else run_values(metrics, number.select, pool_size)
        verdict = judge(
            runs,
            number.metric_value,
            paper_runs=[v / UNITS[number.unit] for v in number.paper_runs],
            tolerance=tolerance,
            relative_floor=relative_floor,
            exact=number.exact,
        )
        status = verdict.status
        if number.select is None:
            status = NOT_MEASURED
        elif number.not_comparable and status != NOT_RUN:
            status = NOT_COMPARABLE
        # the printed interval is the tables' (logit-t inside [0, 1] for a proportion); the
        # verdict keeps its own t-interval on the metric's scale (`judge`, tested as t-tests)
        metric = (number.select or {}).get("metric")
        ours = spread(runs, bounds=(0.0, 1.0) if metric in PROPORTIONS else None)
        shown = status in INTERVAL_SHOWN
        records.append(
            {
                "table": number.table,
                "row": number.row,
                "column": number.column,
                "unit": number.unit,
                "n": verdict.n,
                "ours": ours.mean * UNITS[number.unit],
                "low": ours.low * UNITS[number.unit] if ours.n > 1 else math.nan,
                "high": ours.high * UNITS[number.unit] if ours.n > 1 else math.nan,
                "paper": number.value,
                "difference_points": (ours.mean - number.metric_value) * 100,
                "half_width_points": verdict.half_width if shown else math.nan,
                "margin_points": verdict.margin if shown else math.nan,
                "status": status,
                "reason": number.not_comparable,
                "exact": number.exact,
                "notes": number.notes,
            }
        )
    return pd.DataFrame(records)
