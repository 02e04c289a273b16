"""A table of events that grows at its end, drawn a visible line at a time (the line API).

Textual's DataTable re-measures and re-renders every visible cell through Rich whenever a row is
added, and lays the whole screen out again when it does; during a live run that made each frame
tens of milliseconds. Here a row is three strings cropped to fixed widths, drawn as three
segments, so appending a row costs the same however long the table is.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

from rich.cells import set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tracer.tui.rendered_lines import scrollbar_shown

CELL_PAD = 1  # a space each side of a cell, as DataTable draws them
DRAWN_AT_MOST = 2000  # rows' lines kept (a few screens of them)


class Column(NamedTuple):
    label: str
    width: int | None  # None: the rest of the line


class Row(NamedTuple):
    key: int  # the event's index in the trace
    cells: tuple[str, ...]


class EventTable(ScrollView, can_focus=True):
    """Rows of events under a fixed header; a cursor row that the keys and the mouse move."""

    DEFAULT_CSS = """
    EventTable {
        background: $surface;
        color: $foreground;
        &:focus { background-tint: $foreground 5%; }
        &:focus > .event-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .event-table--header { text-style: bold; background: $panel; color: $foreground; }
        &:ansi > .event-table--header { background: ansi_bright_blue; color: ansi_default; }
        & > .event-table--even-row { background: $surface-lighten-1 50%; }
        &:dark > .event-table--even-row { background: $surface-darken-1 40%; }
        & > .event-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "event-table--header",
        "event-table--even-row",
        "event-table--cursor",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select", "Select", show=False),
        Binding("up", "cursor(-1)", "Cursor up", show=False),
        Binding("down", "cursor(1)", "Cursor down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,ctrl+home", "edge(-1)", "Top", show=False),
        Binding("end,ctrl+end", "edge(1)", "Bottom", show=False),
    ]

    @dataclass
    class Highlighted(Message):
        """The cursor moved onto the row of event `index`."""

        index: int

    @dataclass
    class Selected(Message):
        """The user picked the row of event `index` (Enter or a click)."""

        index: int

    def __init__(self, columns: list[Column], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.columns = columns
        self.rows: list[Row] = []
        self._keys: list[int] = []  # rows' keys, ascending: rows are added in trace order
        self.cursor_row = -1
        self._announced: int | None = None  # the key last sent in a Highlighted
        self._styles: dict[str, Style] = {}  # a row's style by its component class
        self._drawn: dict[tuple[Row, int, str], Strip] = {}  # rows' lines, this look

    # -- contents ------------------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self.rows)

    @property
    def cursor_key(self) -> int | None:
        """The event index under the cursor, if any."""
        return self.rows[self.cursor_row].key if 0 <= self.cursor_row < len(self.rows) else None

    def clear(self) -> None:
        self.rows.clear()
        self._keys.clear()
        self.cursor_row = -1
        self._announced = None
        self._resize()

    def truncate(self, key: int) -> None:
        """Drop the rows of events from index `key` on."""
        keep = bisect_left(self._keys, key)
        if keep == len(self.rows):
            return
        del self.rows[keep:], self._keys[keep:]
        if self.cursor_row >= keep:
            self.cursor_row = -1
            self._announced = None
        self._resize()

    def add_rows(self, rows: list[Row]) -> None:
        if not rows:
            return
        first = len(self.rows)
        self.rows.extend(rows)
        self._keys.extend(row.key for row in rows)
        self._resize()
        self.refresh_lines(1 + first - int(self.scroll_y), len(rows))

    def _resize(self) -> None:
        # one line for the header; the width follows the widget (no horizontal scrolling)
        size = Size(self.scrollable_content_region.width, len(self.rows) + 1)
        old = self.virtual_size
        shown = scrollbar_shown(self, size.height > self.container_size.height)
        if size.width == old.width and shown == self.show_vertical_scrollbar:
            # Growing taller needs no new layout of the screen (a live run grows the table at
            # every frame, and a layout repaints every scrollbar): only the scrollbar's thumb
            # changes, and it is told so here.
            self.set_reactive(EventTable.virtual_size, size)
            if shown:
                self.vertical_scrollbar.window_virtual_size = size.height
        else:
            self.virtual_size = size  # the scrollbar comes or goes: a layout
        self.refresh()

    def row_of(self, key: int) -> int:
        """The last row whose event index is at most `key` (-1 when none is)."""
        return bisect_right(self._keys, key) - 1

    def move_cursor(self, row: int) -> None:
        """Put the cursor on `row` (clamped), scrolled into view, and say so when it moved."""
        row = max(0, min(row, len(self.rows) - 1)) if self.rows else -1
        if row != self.cursor_row:
            old, self.cursor_row = self.cursor_row, row
            for r in (old, row):
                if r >= 0:
                    self.refresh_lines(1 + r - int(self.scroll_y))
        self._scroll_to_cursor()
        key = self.cursor_key
        if key is not None and key != self._announced:
            self._announced = key
            self.post_message(self.Highlighted(key))

    def _scroll_to_cursor(self) -> None:
        if self.cursor_row < 0:
            return
        window = max(1, self.scrollable_content_region.height - 1)  # rows under the header
        top = int(self.scroll_y)
        if self.cursor_row < top:
            top = self.cursor_row
        elif self.cursor_row >= top + window:
            top = self.cursor_row - window + 1
        if top != int(self.scroll_y):
            # forced: the scrollbar a growing table needs is not there until the next layout
            self.scroll_to(y=top, animate=False, immediate=True, force=True)

    # -- drawing -------------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:
            return self._line(Row(-1, tuple(c.label for c in self.columns)), width, "header")
        row = int(self.scroll_y) + y - 1
        if row >= len(self.rows):
            return Strip.blank(width, self._style(""))
        if row == self.cursor_row:
            return self._line(self.rows[row], width, "cursor")
        return self._line(self.rows[row], width, "even-row" if row % 2 else "")

    def _line(self, row: Row, width: int, look: str) -> Strip:
        # a row's line is made once per look: a growing table scrolls, and every visible row
        # is drawn again at every frame (a cell's text measured and cut, ~0.1 ms a row)
        key = (row, width, look)
        strip = self._drawn.get(key)
        if strip is None:
            if len(self._drawn) > DRAWN_AT_MOST:
                self._drawn.clear()
            name = f"event-table--{look}" if look else ""
            strip = self._drawn[key] = self._strip(row.cells, width, name)
        return strip

    def _style(self, component: str) -> Style:
        style = self._styles.get(component)
        if style is None:
            # worked out once per look (theme, focus): asking for it walks up the whole DOM,
            # and a live run draws every visible line at every frame
            style = self.rich_style
            if component:
                style += self.get_component_rich_style(component)
            self._styles[component] = style
        return style

    def _strip(self, cells: tuple[str, ...], width: int, component: str) -> Strip:
        style = self._style(component)
        pad = " " * CELL_PAD
        line = []
        used = 0
        for column, text in zip(self.columns, cells, strict=True):
            if column.width is None:  # the rest of the line, cut at its edge
                line.append(pad + set_cell_size(text, max(0, width - used - CELL_PAD)))
                break
            line.append(pad + set_cell_size(text, column.width) + pad)
            used += column.width + 2 * CELL_PAD
        return Strip([Segment("".join(line), style)]).crop_extend(0, width, style)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._drawn.clear()  # drawn in another look
        self.refresh()

    def _on_focus(self, event: events.Focus) -> None:
        self._styles.clear()
        self._drawn.clear()  # drawn in another look
        self.refresh()

    def _on_blur(self, event: events.Blur) -> None:
        self._styles.clear()
        self._drawn.clear()  # drawn in another look
        self.refresh()

    def on_resize(self) -> None:
        self._resize()
        self._scroll_to_cursor()

    def watch_show_vertical_scrollbar(self) -> None:
        # the scrollbar takes a column of the rows' width, and the widget's size stays the
        # same (no resize tells it): the width is taken now, not at the next rows (a live run
        # shows its scrollbar from the start, so its rows never need a layout)
        self.call_after_refresh(self._resize)

    # -- keys and mouse ------------------------------------------------------------------------
    def action_cursor(self, delta: int) -> None:
        self.move_cursor(self.cursor_row + delta)

    def action_page(self, delta: int) -> None:
        self.move_cursor(
            self.cursor_row + delta * max(1, self.scrollable_content_region.height - 2)
        )

    def action_edge(self, delta: int) -> None:
        self.move_cursor(0 if delta < 0 else len(self.rows) - 1)

    def action_select(self) -> None:
        key = self.cursor_key
        if key is not None:
            self.post_message(self.Selected(key))

    def on_click(self, event: events.Click) -> None:
        if event.y < 1:
            return
        row = int(self.scroll_y) + event.y - 1
        if 0 <= row < len(self.rows):
            self.move_cursor(row)
            self.action_select()
