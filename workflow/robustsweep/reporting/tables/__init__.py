"""Stage 5: paper-style Markdown tables (tables.md), one module per table section.

Each module registers a function (tidy metric table, TableContext) -> Markdown section in
`TABLES` (the context also holds the attack table, for the stored-attack section), with an
`order` that places it in tables.md. Paper-style means: one row per draw or trial, then the
mean, values in percent as printed in the papers. A section whose runs the study does not have
says so instead of disappearing, so every tables.md has the same outline.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from robustsweep.atomic_output import write_text
from robustsweep.registry import Registry
from robustsweep.stage_settings import TablesSettings

if TYPE_CHECKING:
    import pandas as pd

    from robustsweep.reporting.paper_numbers import PaperNumbers

TABLES = Registry("table", __name__)
NO_RUNS = "no runs in this study produce this table"


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
) -> None:
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


def write_tables(metrics_path: Path, output: Path, context: TableContext) -> None:
    """Every registered table, in order, in one Markdown file."""
    import pandas as pd

    metrics = pd.read_csv(metrics_path)
    entries = sorted((TABLES.get(name) for name in TABLES.names()), key=lambda e: e.order)
    parts = ["# Study tables\n", *(entry.target(metrics, context) for entry in entries)]
    write_text(output, "\n".join(parts))


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

    cells = table.astype(object).map(text)
    align = ["left"] + ["right"] * len(cells.columns)
    return cells.to_markdown(disable_numparse=True, colalign=align) + "\n"


def section(
    title: str, table: pd.DataFrame, digits: int = 2, note: str = "", empty: str = NO_RUNS
) -> str:
    """A heading, an optional note, and the table."""
    body = markdown(table, digits, empty)
    return "\n".join([f"## {title}\n", *([note] if note else []), body])
