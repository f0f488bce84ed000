"""The tables the README and the report show are the committed results, not copies that drift
from them: Table 1 and the second table ("beyond Table 1") as the `table` stage wrote them appear
row for row, and the README stays a landing page."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT


def table_rows(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.startswith("|")]


@pytest.mark.parametrize(
    ("page", "written"),
    [
        ("README.md", "metrics/table1.md"),
        ("docs/results.md", "metrics/table1.md"),
        ("docs/results.md", "metrics/beyond.md"),
    ],
)
def test_the_page_shows_the_committed_table_row_for_row(page, written):
    rows = table_rows(ROOT / written)
    assert rows, f"{written} holds no table"
    lines = (ROOT / page).read_text().splitlines()
    starts = [i for i, line in enumerate(lines) if line == rows[0]]
    assert any(lines[i : i + len(rows)] == rows for i in starts), (
        f"{page} does not show {written} as committed; copy its table into it"
    )


def test_the_readme_is_a_landing_page_with_the_result_before_the_set_up():
    text = (ROOT / "README.md").read_text()
    assert len(text.encode()) <= 10_500
    assert text.index("## The result") < text.index("## Two commands")


def test_the_report_shows_every_committed_mark_of_the_long_run_study():
    """docs/results.md's marks table is `python -m studies.long --report`'s, row for row."""
    from studies.long import marks_table

    rows = marks_table(ROOT / "metrics/studies/long-mnist").splitlines()
    lines = (ROOT / "docs/results.md").read_text().splitlines()
    start = lines.index(rows[0])
    assert lines[start : start + len(rows) + 1] == [*rows, ""], (
        "docs/results.md does not show the long-run study's marks as committed; copy "
        "`python -m studies.long --report`'s table into it"
    )
