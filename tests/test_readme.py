"""The README's tables are the committed results, not copies that drift from them: Table 1 and
the second table ("beyond Table 1") as the `table` stage wrote them appear in the README row for
row."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT


def table_rows(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.startswith("|")]


@pytest.mark.parametrize("written", ["metrics/table1.md", "metrics/beyond.md"])
def test_the_readme_shows_the_committed_table_row_for_row(written):
    rows = table_rows(ROOT / written)
    assert rows, f"{written} holds no table"
    readme = (ROOT / "README.md").read_text().splitlines()
    starts = [i for i, line in enumerate(readme) if line == rows[0]]
    assert any(readme[i : i + len(rows)] == rows for i in starts), (
        f"README.md does not show {written} as committed; copy its table into the README"
    )
