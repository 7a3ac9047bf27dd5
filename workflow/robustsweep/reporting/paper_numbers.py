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
        source: ...                         # optional: where the numbers come from, if not
                                            #   the paper's own text (a repository README)
        note: ...                           # optional: about the whole table
        select: {model: vgg16, test_set: natural, metric: accuracy_all_images}
        rows:                               # row label as printed -> selector keys it adds
          1st test: {trial: 0}
          Mean value: {}                    # no trial: the mean over the matching rows
        columns:                            # column label as printed -> selector keys
          "20": {m_classes: 20}
        values:                             # per row, one value per column, as printed;
          1st test: [2.96]                  #   null where the paper's cell is empty
          Mean value: [2.87]
        notes:                              # "<row>", "<column>" or "<row> / <column>" ->
          Mean value / 20: ...              #   why the printout is odd (shown as a footnote)

A selector picks rows of the tidy metric table (reporting/metric_table.py) by `model`,
`defence` (default standard), `test_set` (a name or a list: the mean over them), `pattern`
(default all; a corruption of the `corrupted` set), `severity` (1-5, of the `corrupted` set;
default: its severities pooled), `n_train_classes` (default: the class pool), `m_classes`
(default: N), `draw`, `trial`, and names the `metric` column; the number is the mean of that
column over every matching row, so leaving out `draw`/`trial` averages draws and trials, as the
papers' "mean" rows do. Table, row and column selectors are merged in that order. Besides the
test metrics, `train_accuracy` and `train_loss` (the last epoch's, from the run's epochs.csv)
can be named. A row or column the study cannot measure (a setting such as the epochs, an attack
it does not run) is `null`, and its note says why: listed, never judged.

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
        "n_train_classes": {"type": "integer", "minimum": 2},
        "m_classes": {"type": "integer", "minimum": 2},
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
                    "source": {"type": "string"},
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
                },
            },
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
    source: str
    note: str
    numbers: tuple[PaperNumber, ...]


@dataclass(frozen=True)
class PaperNumbers:
    """Everything one paper-numbers file holds."""

    paper: str
    note: str
    tables: tuple[PaperTable, ...]
    file: str  # as the config names it, for messages and the report

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
    return PaperNumbers(data["paper"], data.get("note", ""), tables, name)


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
    for key in notes:
        row, _, column = (part.strip() for part in key.partition(" / "))
        if not (key in rows or key in columns or (row in rows and column in columns and column)):
            raise ConfigError(
                f"{where}: note '{key}' names no row, column or '<row> / <column>' cell of the "
                "table; use the labels as 'rows' and 'columns' spell them"
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
            cell_notes = tuple(notes[k] for k in (row, column, f"{row} / {column}") if k in notes)
            numbers.append(
                PaperNumber(entry["table"], row, column, value, entry["unit"], select, cell_notes)
            )
    return PaperTable(
        entry["table"],
        entry.get("title", ""),
        entry["unit"],
        entry.get("source", ""),
        entry.get("note", ""),
        tuple(numbers),
    )


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
    from robustsweep.evaluation.test_set_names import configured_test_sets

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
    n = select.get("n_train_classes", pool_size)
    test_sets = select["test_set"]
    rows = metrics[
        (metrics.model == select["model"])
        & (metrics.defence == select.get("defence", "standard"))
        & metrics.test_set.isin([test_sets] if isinstance(test_sets, str) else test_sets)
        & (metrics.pattern == select.get("pattern", "all"))
        & (metrics.n_train_classes == n)
        & (metrics.m_classes == select.get("m_classes", n))
    ]
    if "severity" in metrics:  # corrupted set: one severity, or (by default) all pooled
        severity = metrics.severity.loc[rows.index]
        rows = rows[severity == select["severity"] if "severity" in select else severity.isna()]
    for key in ("draw", "trial"):
        if key in select:
            rows = rows[rows[key] == select[key]]
    return rows


def our_value(metrics: pd.DataFrame, select: dict, pool_size: int) -> tuple[float, int]:
    """Mean of the selected metric over the matching rows, and how many rows it averages."""
    values = selected_rows(metrics, select, pool_size)[select["metric"]].dropna()
    return (float(values.mean()) if len(values) else math.nan), int(len(values))


def compare(
    metrics: pd.DataFrame, paper: PaperNumbers, pool_size: int, tolerance: float
) -> pd.DataFrame:
    """One row per published number: ours and the paper's (both as printed, in the paper's
    unit), the difference in percentage points, and the verdict against `tolerance`
    (reproduced / missed), or why there is none (not run / not measured)."""
    import pandas as pd

    records = []
    for number in paper.numbers():
        ours, averaged = math.nan, 0
        if number.select is None:
            status = NOT_MEASURED
        else:
            ours, averaged = our_value(metrics, number.select, pool_size)
        difference = (ours - number.metric_value) * 100
        if number.select is not None:
            if math.isnan(ours):
                status = NOT_RUN
            else:
                status = REPRODUCED if abs(difference) <= tolerance + 1e-9 else MISSED
        records.append(
            {
                "table": number.table,
                "row": number.row,
                "column": number.column,
                "unit": number.unit,
                "ours": ours * UNITS[number.unit],
                "paper": number.value,
                "difference_points": difference,
                "status": status,
                "rows_averaged": averaged,
                "notes": number.notes,
            }
        )
    return pd.DataFrame(records)
