"""The step table drawn straight into strips matches the Rich table it replaced, cell by cell."""

from __future__ import annotations

import pytest
from rich.console import Console
from rich.style import Style
from rich.table import Table
from rich.text import Text

from tracer.tui.widgets.step_list import SHORT_TITLES, Cell, StepRow, step_rows

BASE = Style(color="white", bgcolor="black")
CURRENT = Style(bgcolor="yellow", bold=True)
OK, DIM, MISSING = Style(color="green"), Style(color="grey50"), Style(color="red", bold=True)


def rows() -> tuple[StepRow, ...]:
    whens = ["+0.000s", "+0.076s", "+10.260s", "missing", "", "", ""]
    return tuple(
        StepRow(
            Cell("✓ " if when.startswith("+") else "✗ ", OK if when.startswith("+") else MISSING),
            str(n),
            SHORT_TITLES[n],
            Cell(when, DIM if when.startswith("+") else MISSING),
            CURRENT if n == 2 else None,
        )
        for n, when in zip(range(1, 8), whens, strict=True)
    )


def rich_table(width: int) -> list[list[tuple[str, Style | None]]]:
    table = Table.grid(expand=True, padding=(0, 1, 0, 0))
    table.add_column(width=2)
    table.add_column(width=1)
    table.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
    table.add_column(justify="right", no_wrap=True, min_width=8)
    for row in rows():
        table.add_row(
            Text(row.icon.text, row.icon.style),
            row.number,
            row.title,
            Text(row.when.text, row.when.style),
            style=row.style,
        )
    console = Console(width=width, color_system="truecolor")
    lines = console.render_lines(table, console.options, style=BASE)
    return [cells(line) for line in lines]


def cells(segments: list) -> list[tuple[str, Style | None]]:
    return [(ch, seg.style) for seg in segments for ch in seg.text]


@pytest.mark.parametrize("width", [24, 35, 36, 60])
def test_the_strips_match_the_rich_table(width: int) -> None:
    ours = [cells(list(strip)) for strip in step_rows(rows(), width, BASE)]
    assert ours == rich_table(width)
