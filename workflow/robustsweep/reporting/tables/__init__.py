"""Stage 5: paper-style Markdown tables (tables.md), one module per table section.

Each module registers a function (tidy metric table, TableContext) -> Markdown section in
`TABLES` (the context also holds the attack table, for the stored-attack section), with an
`order` that places it in tables.md. Paper-style means: one row per draw or trial, then the
mean, values in percent as printed in the papers. A section whose runs the study does not have
is left out, and one line at the end of tables.md names every section left out. Row labels of
several keys read as words (`resnet18 · offline_adversarial`); a table wider than WIDTH
characters is split into several, each repeating the row labels, and notes are wrapped, so
every line of tables.md fits WIDTH characters (the reproduction listings and the per-run
attack listing excepted: one column per number, read across).
"""

from __future__ import annotations

import textwrap
from dataclasses import KW_ONLY, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from robustsweep.atomic_output import write_text
from robustsweep.registry import Registry
from robustsweep.reporting.tables_html import write_tables_html
from robustsweep.stage_settings import TablesSettings

if TYPE_CHECKING:
    import pandas as pd

    from robustsweep.reporting.paper_numbers import PaperNumbers

TABLES = Registry("table", __name__)
NO_RUNS = "no runs in this study produce this table"
WIDTH = 120  # characters per line of tables.md
LEVELS = " · "  # joins the keys of a row or column label
ABSENT = "<!-- no runs produce: "  # marks a left-out section until write_tables lists it


@dataclass(frozen=True)
class TableContext:
    """What tables need besides the metrics: the class pool (what 'all-class' means) and the
    paper's published numbers with the study's tolerance (reporting/paper_numbers.py), and the
    attack table (reporting/attack_table.py: every store's and white-box set's success)."""

    pool_size: int
    _: KW_ONLY  # the rest by name: several optional parts, easy to pass in the wrong slot
    paper: PaperNumbers | None = None
    tolerance: float = 1.0  # percentage points: the verdict's margin (paper_numbers.judge)
    relative_floor: float = 0.1  # ... capped at this fraction of the paper's value
    compare: bool = True  # judge ours against the paper's (off: show them side by side)
    compare_off: str = ""  # why comparison is off, for the report
    attacks: pd.DataFrame | None = None


def tables_stage(
    *,
    settings: TablesSettings,
    metrics: Path,
    output: Path,
    paper_numbers: Path | None = None,
    attacks: Path | None = None,
    html: Path | None = None,
) -> None:
    """tables.md, and with `html` the same tables as an HTML page for the Snakemake report."""
    from robustsweep.reporting.attack_table import read_attack_table
    from robustsweep.reporting.paper_numbers import load_paper_numbers

    paper = None
    if paper_numbers is not None:
        paper = load_paper_numbers(paper_numbers, settings.paper_numbers)
    context = TableContext(
        settings.pool_size,
        paper=paper,
        tolerance=settings.tolerance,
        relative_floor=settings.relative_floor,
        compare=not settings.compare_off,
        compare_off=settings.compare_off,
        attacks=read_attack_table(attacks),
    )
    write_tables(metrics, output, context)
    if html is not None:
        write_tables_html(output.read_text(), html)


def write_tables(metrics_path: Path, output: Path, context: TableContext) -> None:
    """Every registered table, in order, in one Markdown file."""
    import pandas as pd

    metrics = pd.read_csv(metrics_path)
    entries = sorted((TABLES.get(name) for name in TABLES.names()), key=lambda e: e.order)
    parts = ["# Study tables\n", *(entry.target(metrics, context) for entry in entries)]
    write_text(output, without_absent_sections("\n".join(parts)))


def without_absent_sections(text: str) -> str:
    """The tables with every left-out section's marker removed and their titles listed in
    one line at the end."""
    kept, absent = [], []
    for line in text.split("\n"):
        if line.startswith(ABSENT):
            absent.append(line.removeprefix(ABSENT).removesuffix(" -->"))
        else:
            kept.append(line)
    body = "\n".join(kept).rstrip("\n") + "\n"
    body = body.replace("\n\n\n\n", "\n\n").replace("\n\n\n", "\n\n")
    if absent:
        listing = "No run of this study produces these sections: " + "; ".join(absent) + "."
        body += "\n" + textwrap.fill(listing, WIDTH) + "\n"
    return body


def flat_labels(table: pd.DataFrame) -> pd.DataFrame:
    """Row and column labels of several keys as words joined by LEVELS, not Python tuples."""
    import pandas as pd

    table = table.copy()
    for axis in ("index", "columns"):
        labels = getattr(table, axis)
        if isinstance(labels, pd.MultiIndex):
            names = [str(n) for n in labels.names if n is not None]
            flat = pd.Index([LEVELS.join(str(key) for key in keys) for keys in labels])
            flat.name = LEVELS.join(names) if names else None
            setattr(table, axis, flat)
    return table


def column_groups(cells: pd.DataFrame, width: int = WIDTH) -> list[list]:
    """The columns in consecutive groups whose Markdown table (with the row labels) fits
    `width` characters a line, measured on tabulate's own output (it pads headers); a
    column too wide on its own is a group by itself."""
    groups: list[list] = [[]]
    for column in cells.columns:
        candidate = [*groups[-1], column]
        if groups[-1] and line_width(cells[candidate]) > width:
            groups.append([column])
        else:
            groups[-1] = candidate
    return groups


def line_width(cells: pd.DataFrame) -> int:
    return max(map(len, pipe_table(cells).splitlines()), default=0)


def pipe_table(cells: pd.DataFrame) -> str:
    align = ["left"] + ["right"] * len(cells.columns)
    return cells.to_markdown(disable_numparse=True, colalign=align)


def markdown(table: pd.DataFrame, digits: int = 2, empty: str = NO_RUNS) -> str:
    """The table in Markdown, or an italic line saying why there is none. Numbers are written
    with `digits` decimals here and every cell is then printed as it is: tabulate would
    otherwise re-read text cells that look like numbers (a spread cell of one run, "0.0040")
    and reformat them. NaN marks cells the design leaves empty (M = N has one trial, as in
    the papers' tables)."""
    import numbers

    if table.empty:
        return f"_{empty}_\n"

    def text(value) -> str:
        if value is None or (isinstance(value, float) and value != value):
            return ""
        if isinstance(value, numbers.Real) and not isinstance(value, bool | numbers.Integral):
            return f"{value:.{digits}f}"
        return str(value)

    cells = flat_labels(table).astype(object).map(text)
    parts = []
    for columns in column_groups(cells):
        parts.append(pipe_table(cells[columns]) + "\n")
    return "\n".join(parts)


def section(
    title: str, table: pd.DataFrame, digits: int = 2, note: str = "", empty: str = NO_RUNS
) -> str:
    """A heading, an optional note (wrapped to WIDTH), and the table; a table no run
    produces leaves only a marker, which write_tables turns into its closing list."""
    if table.empty and empty == NO_RUNS:
        return f"{ABSENT}{title} -->\n"
    body = markdown(table, digits, empty)
    wrapped = "\n".join(textwrap.fill(line, WIDTH) for line in note.split("\n")) if note else ""
    return "\n".join([f"## {title}\n", *([wrapped] if wrapped else []), body])
