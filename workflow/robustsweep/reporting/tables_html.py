"""tables.md as an HTML page for the Snakemake report (`snakemake --report`), which shows an
HTML file inline but a Markdown one only as a download.

Written by hand because no library in the environment reads Markdown (python-markdown and
pandoc are not dependencies; docutils reads reStructuredText only), and tables.md uses a
small, fixed part of it that tables/__init__.py writes itself: `#` headings, paragraphs, and
tabulate's pipe tables (header, alignment row, body; no pipes inside cells). Anything else
is kept as escaped text, so nothing is lost.
"""

from __future__ import annotations

import html
from pathlib import Path

from robustsweep.atomic_output import write_text

STYLE = (
    "body{font-family:sans-serif;max-width:80em}table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #ccc;padding:2px 6px}td.r,th.r{text-align:right}"
)


def write_tables_html(markdown_text: str, output: Path) -> None:
    write_text(output, tables_html(markdown_text))


def tables_html(markdown_text: str) -> str:
    """The page: one HTML element per heading, paragraph and pipe table of the Markdown."""
    body, block = [], []
    for line in [*markdown_text.split("\n"), ""]:
        if line.strip() and (not block or line.startswith("|") == block[0].startswith("|")):
            block.append(line)
            continue
        if block:
            body.append(element(block))
        block = [line] if line.strip() else []
    head = f"<head><meta charset='utf-8'><style>{STYLE}</style></head>"
    return f"<!DOCTYPE html>\n<html>{head}<body>\n" + "\n".join(body) + "\n</body></html>\n"


def element(lines: list[str]) -> str:
    if lines[0].startswith("|"):
        return table(lines)
    if lines[0].startswith("#"):
        level = min(len(lines[0]) - len(lines[0].lstrip("#")), 6)
        return f"<h{level}>{html.escape(lines[0].lstrip('#').strip())}</h{level}>"
    return f"<p>{html.escape(' '.join(lines))}</p>"


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def table(lines: list[str]) -> str:
    """A pipe table: its header, alignment row (`---:` right-aligned) and body rows."""
    header, rule, *rows = lines
    right = [cell.endswith(":") and not cell.startswith(":") for cell in cells(rule)]

    def row(line: str, tag: str) -> str:
        parts = [
            f"<{tag}{' class=r' if r else ''}>{html.escape(c)}</{tag}>"
            for c, r in zip(cells(line), right, strict=False)
        ]
        return "<tr>" + "".join(parts) + "</tr>"

    return "<table>" + row(header, "th") + "".join(row(line, "td") for line in rows) + "</table>"
