"""The README fits on a screen, and no link of the README or of a docs/ page is broken: every
relative link and image names an existing file, and every #anchor a heading of its page."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import REPO

README_MAX_LINES = 300
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def pages() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def anchors(page: Path) -> set[str]:
    """GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces to -."""
    text = FENCE.sub("", page.read_text())
    headings = re.findall(r"^#{1,6} +(.+?) *$", text, re.M)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def broken_links(page: Path) -> list[str]:
    """Relative links (and images) of `page` whose file or #anchor does not exist."""
    broken = []
    for target in LINK.findall(FENCE.sub("", page.read_text())):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.is_file():
            broken.append(f"{target} (no file {path})")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target} (no heading #{anchor} in {file.name})")
    return broken


def test_the_readme_fits_on_a_screen():
    lines = (REPO / "README.md").read_text().count("\n")
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines, more than {README_MAX_LINES}: move sections into docs/"
    )


def test_every_relative_link_of_the_readme_and_docs_resolves():
    broken = {page.name: broken_links(page) for page in pages()}
    assert not {page: links for page, links in broken.items() if links}


def test_broken_links_are_caught(tmp_path):
    """Negative control: a missing file, a missing image and a missing anchor are each found;
    web links, good links and links inside code blocks are not."""
    (tmp_path / "other.md").write_text("# Other\n\n## A section, here\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n[ok](other.md#a-section-here) [web](https://example.org/x.md) [self](#page)\n"
        "[gone](missing.md) ![picture](missing.png) [anchor](other.md#nowhere)\n"
        "```\n[in code](nowhere.md)\n```\n"
    )
    assert broken_links(page) == [
        "missing.md (no file missing.md)",
        "missing.png (no file missing.png)",
        "other.md#nowhere (no heading #nowhere in other.md)",
    ]


def test_the_docs_are_linked_from_the_readme():
    """Every docs page is reachable from the README (a page nobody links is a lost page)."""
    readme = (REPO / "README.md").read_text()
    linked = {target.partition("#")[0] for target in LINK.findall(readme)}
    assert {f"docs/{page.name}" for page in (REPO / "docs").glob("*.md")} <= linked
