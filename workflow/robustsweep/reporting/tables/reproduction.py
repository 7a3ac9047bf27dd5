"""The "Reproduction" section at the top of tables.md: how many of the paper's published
numbers the study reproduces (the rule: reporting/paper_numbers.py `judge`), which it misses,
which are inconclusive (an interval too wide to tell), and, for every table of the paper,
n | ours | our interval | paper | difference | the half-width allowed | verdict per number.
The section and its verdict are this project's own; the numbers are the study's paper's
(`studies/<study>.paper.yaml`)."""

from __future__ import annotations

import math

import pandas as pd

from robustsweep.reporting.paper_numbers import (
    CONFIDENCE,
    INCONCLUSIVE,
    MISSED,
    NOT_COMPARABLE,
    NOT_MEASURED,
    NOT_RUN,
    REPRODUCED,
    SINGLE_RUN,
    PaperNumbers,
    compare,
)
from robustsweep.reporting.tables import TABLES, TableContext

DIGITS = {"percent": 2, "fraction": 4}  # as the papers print them


def printed(value: float, unit: str) -> str:
    return "" if math.isnan(value) else f"{value:.{DIGITS[unit]}f}"


def text_table(frame: pd.DataFrame) -> str:
    """Markdown of cells already written as text (each number with its table's digits)."""
    return frame.to_markdown(index=False, disable_numparse=True) + "\n"


def rule_words(tolerance: float, relative_floor: float) -> str:
    """The verdict rule in one sentence, for the summary."""
    return (
        f"the paper's value inside our {CONFIDENCE * 100:g} % t-interval over the cell's runs "
        "on the metric's own scale (column 'allowed'; the 'ours 95 % CI' column is the tables' "
        "logit-t interval, inside [0, 100]), widened by the paper's own spread where it prints "
        "its runs (Welch), an interval no wider than the margin: the smaller of "
        f"±{tolerance:g} percentage points and ±{relative_floor:g} x the paper's value, also "
        "its least half-width"
    )


def summary_line(comparison: pd.DataFrame, tolerance: float, relative_floor: float) -> str:
    """'**k of n judged published numbers reproduce** (the rule); m miss; i inconclusive;
    not judged: ...': n counts reproduced and missed cells only."""
    counts = comparison.status.value_counts()
    judged = int(counts.get(REPRODUCED, 0) + counts.get(MISSED, 0))
    # the inconclusive count stands in the bold headline too: with most cells inconclusive,
    # "3 of 3 reproduce" alone would overstate what was shown
    undecided = int(counts.get(INCONCLUSIVE, 0))
    more = f", {undecided} more inconclusive" if undecided else ""
    line = (
        f"**{counts.get(REPRODUCED, 0)} of {judged} judged published numbers reproduce{more}** "
        f"({rule_words(tolerance, relative_floor)}); {counts.get(MISSED, 0)} miss"
    )
    if not judged:  # e.g. one draw per cell: nothing has an interval
        line = f"**No published number is judged** ({rule_words(tolerance, relative_floor)})"
    skipped = [
        f"{counts[status]} {words}"
        for status, words in (
            (SINGLE_RUN, "single-run cells (one draw or trial: no interval)"),
            (NOT_COMPARABLE, "not comparable (protocol knowingly approximate)"),
            (NOT_MEASURED, "not measured by this study"),
            (NOT_RUN, "from runs this study does not have"),
        )
        if counts.get(status, 0)
    ]
    if counts.get(INCONCLUSIVE, 0):
        line += (
            f"; {counts[INCONCLUSIVE]} inconclusive (the paper's value inside an interval "
            "wider than the margin: more runs decide)"
        )
    if skipped:
        line += f"; not judged: {', '.join(skipped)}"
    return line + f" ({len(comparison)} published numbers in all).\n"


COUNT_COLUMNS = [REPRODUCED, MISSED, INCONCLUSIVE, "single run", NOT_COMPARABLE, "not compared"]


def per_table_counts(comparison: pd.DataFrame) -> pd.DataFrame:
    """Reproduced / missed / inconclusive / single run / not comparable / not compared per
    paper table, in the paper's order."""
    order = list(dict.fromkeys(comparison.table))
    status = comparison.status.replace(
        {SINGLE_RUN: "single run", NOT_RUN: "not compared", NOT_MEASURED: "not compared"}
    )
    counts = pd.crosstab(comparison.table, status).reindex(order)
    counts = counts.reindex(columns=COUNT_COLUMNS, fill_value=0).fillna(0).astype(int)
    return counts.reset_index().astype(str)


def interval(row) -> str:
    """Our 95 % t-interval as printed, or nothing for a single run."""
    if math.isnan(row.low):
        return ""
    return f"[{printed(row.low, row.unit)}, {printed(row.high, row.unit)}]"


def verdict_words(row) -> str:
    if row.status == NOT_COMPARABLE:
        return f"{NOT_COMPARABLE} ({row.reason})"
    if row.status == INCONCLUSIVE:
        return (
            f"{INCONCLUSIVE} (interval ±{row.half_width_points:.2f} wider than "
            f"±{row.margin_points:.2f} pp)"
        )
    if row.exact and row.status in (REPRODUCED, MISSED):
        return f"{row.status} (exact)"
    return row.status


def comparison_cells(rows: pd.DataFrame, verdict: bool) -> tuple[pd.DataFrame, list[str]]:
    """n | ours | 95 % CI | paper | difference | allowed (±pp) and the verdict per number,
    with footnote markers for the numbers the paper's printout makes doubtful; the
    footnotes in order."""
    footnotes: list[str] = []
    cells = []
    for row in rows.itertuples():
        markers = []
        for note in row.notes:
            if note not in footnotes:
                footnotes.append(note)
            markers.append(f"[{footnotes.index(note) + 1}]")
        difference = row.difference_points
        allowed = row.half_width_points
        cell = {
            "row": row.row,
            "column": row.column,
            "n": str(row.n) if row.n else "",
            "ours": printed(row.ours, row.unit),
            "ours 95 % CI": interval(row),
            "paper": printed(row.paper, row.unit),
            "difference (pp)": "" if math.isnan(difference) else f"{difference:+.2f}",
            "allowed (±pp)": "" if math.isnan(allowed) or not verdict else f"{allowed:.2f}",
        }
        shown = verdict or row.status in (NOT_RUN, NOT_MEASURED, NOT_COMPARABLE)
        cell["verdict"] = verdict_words(row) if shown else ""
        cell["note"] = " ".join(markers)
        cells.append(cell)
    frame = pd.DataFrame(cells)
    empty = [name for name in ("verdict", "note") if (frame[name] == "").all()]
    return frame.drop(columns=empty), footnotes


def table_section(paper: PaperNumbers, comparison: pd.DataFrame, verdict: bool) -> list[str]:
    """One sub-section per paper table: its heading and note, then every number."""
    parts = []
    for table in paper.tables:
        rows = comparison[comparison.table == table.table]
        heading = f"### {table.table}" + (f": {table.title}" if table.title else "")
        parts.append(heading + "\n")
        about = [f"Values in {'%' if table.unit == 'percent' else 'fractions'}, as printed."]
        if table.cited_from:
            about.append(f"Cited from: {table.cited_from}.")
        if table.note:
            about.append(table.note)
        parts.append(" ".join(about) + "\n")
        if rows.empty:
            parts.append("_no published numbers in this table_\n")
            continue
        cells, footnotes = comparison_cells(rows, verdict)
        parts.append(text_table(cells))
        parts += [f"[{k}] {note}\n" for k, note in enumerate(footnotes, 1)]
    return parts


def reproduction_report(metrics: pd.DataFrame, context: TableContext) -> str:
    """The whole section: summary, misses, and every paper table's numbers."""
    paper = context.paper
    if paper is None:
        return (
            "_this study names no published numbers (`reproduction.paper_numbers`), so "
            "nothing is compared_\n"
        )
    comparison = compare(
        metrics, paper, context.pool_size, context.tolerance, context.relative_floor
    )
    parts = [f"Published numbers of {paper.paper}, from `{paper.file}`.\n"]
    if paper.note:
        parts.append(paper.note.strip() + "\n")
    if comparison.empty:
        return "\n".join([*parts, "_the file lists no published numbers_\n"])
    if context.compare:
        parts.append(summary_line(comparison, context.tolerance, context.relative_floor))
        parts.append(text_table(per_table_counts(comparison)))
        missed = comparison[comparison.status == MISSED]
        if not missed.empty:
            parts.append("Missed:\n")
            listing = missed.assign(
                ours=[printed(v, u) for v, u in zip(missed.ours, missed.unit, strict=True)],
                paper=[printed(v, u) for v, u in zip(missed.paper, missed.unit, strict=True)],
                **{
                    "difference (pp)": missed.difference_points.map(lambda d: f"{d:+.2f}"),
                    "allowed (±pp)": missed.half_width_points.map(lambda h: f"{h:.2f}"),
                    "n": missed.n.astype(str),
                },
            )
            columns = ["table", "row", "column", "n", "ours", "paper", "difference (pp)"]
            parts.append(text_table(listing[[*columns, "allowed (±pp)"]]))
    else:
        why = context.compare_off or "`reproduction.compare: false`"
        parts.append(
            f"Comparison is off for this study ({why}); ours stand beside the paper's numbers "
            "and nothing is judged.\n"
        )
    parts += table_section(paper, comparison, context.compare)
    return "\n".join(parts)


@TABLES.register("reproduction", order=0)
def reproduction(metrics: pd.DataFrame, context: TableContext) -> str:
    return "\n".join(["## Reproduction\n", reproduction_report(metrics, context)])
