"""tables.md a reader can take in: intervals inside [0, 100], row labels as words, sections no
run produces left out and listed once, every line within 120 characters (but the per-run
attack listing and the reproduction listings), and the same tables as HTML for the report.
`check_tables_md` is also run on the tiny study's tables.md (tests/test_workflow.py)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pandas as pd

from robustsweep.reporting.spread import spread_table
from robustsweep.reporting.tables import WIDTH, section, without_absent_sections
from robustsweep.reporting.tables_html import tables_html

INTERVAL = re.compile(r"\[(-?\d+\.\d+), (-?\d+\.\d+)\]")
# sections whose lines may run wider: one column per attack figure or published number
WIDE_SECTIONS = ("## Stored attacks", "## Reproduction")


def check_tables_md(text: str) -> None:
    """The issue's checks on a tables.md: no interval outside [0, 100] in a percent table, no
    row label printed as a Python tuple, no line over WIDTH outside the wide sections."""
    wide = False
    for line in text.splitlines():
        if line.startswith("## "):
            wide = line.startswith(WIDE_SECTIONS)
        if not wide:
            assert len(line) <= WIDTH, line
        assert not re.match(r"^\| *\('", line), line  # ('resnet18', 'standard')
        if not wide and line.startswith("|"):
            for low, high in INTERVAL.findall(line):
                assert 0 <= float(low) <= float(high) <= 100, line


def wide_rows() -> pd.DataFrame:
    rows = []
    for defence, values in (
        ("standard", [0.99, 1.0, 0.97]),
        ("offline_adversarial", [0.1, 0.3, 0.0]),
    ):
        for test_set in (
            "clean",
            "natural",
            "attack-fgsm",
            "attack-pgd",
            "white_box-fgsm",
            "white_box-pgd",
        ):
            for draw, value in enumerate(values):
                rows.append(
                    {
                        "model": "resnet18",
                        "defence": defence,
                        "test_set": test_set,
                        "draw": draw,
                        "accuracy": value,
                    }
                )
    return pd.DataFrame(rows)


def test_a_wide_table_splits_with_word_labels_and_bounded_intervals():
    table = spread_table(wide_rows(), ["model", "defence"], "test_set", "accuracy", mark="defence")
    text = section("Robust accuracy", table, note="a note " * 40)
    check_tables_md(text)
    assert "| resnet18 · offline_adversarial |" in text
    assert text.count("| model · defence") == 3  # six columns of ~30 characters: 3 tables
    assert all(column in text for column in ("attack-pgd", "white_box-pgd", "clean"))


def test_absent_sections_are_left_out_and_listed_once_at_the_end():
    text = "\n".join(
        [
            "# Study tables\n",
            section("Kept", pd.DataFrame({"a": [1.0]}, index=["x"])),
            section("Nothing here", pd.DataFrame()),
            section("Nor here", pd.DataFrame()),
        ]
    )
    out = without_absent_sections(text)
    assert "## Kept" in out and "## Nothing here" not in out and "no runs" not in out
    assert out.rstrip().splitlines()[-1] == (
        "No run of this study produces these sections: Nothing here; Nor here."
    )


class Cells(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        if data.strip():
            self.text.append(data.strip())


def test_html_page_holds_every_heading_and_cell():
    table = spread_table(wide_rows(), ["model", "defence"], "test_set", "accuracy")
    markdown = "# Study tables\n\n" + section("Robust <accuracy>", table, note="x & y")
    parser = Cells()
    parser.feed(tables_html(markdown))
    assert parser.tags.count("table") == 3 and parser.tags.count("h2") == 1
    assert "Robust <accuracy>" in parser.text and "x & y" in parser.text  # escaped, read back
    cells = [c for c in table.to_numpy().ravel()]
    assert all(cell in parser.text for cell in cells)
    assert parser.tags.count("tr") == 3 * 3  # header + 2 rows per split table


def test_headers_wider_than_their_cells_still_fit():
    # ho2024's Table 2: short numbers under long headers, which tabulate pads
    columns = ["Epochs", "L", "Acc in Training (%)", "Acc of Models (%)", "Precision (%)"]
    columns += ["Recall (%)", "Test loss"]
    table = pd.DataFrame([["2"] * len(columns)] * 2, columns=columns)
    table.index = pd.MultiIndex.from_tuples([("cnn", "offline"), ("cnn", "standard")])
    table.index.names = ["model", "defence"]
    text = section("Table 2", table)
    check_tables_md(text)
    assert text.count("| model · defence") == 2 and all(c in text for c in columns)
