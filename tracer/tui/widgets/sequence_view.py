"""The run as a sequence diagram: lanes across, arrows down, drawn up to the playhead."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from tracer.chain.labels import label
from tracer.chain.sequence import Arrow, SequenceDiagram
from tracer.text.pictures import lane_title, step_heading
from tracer.tui.rendered_lines import RenderedLines

MARGIN = 4  # columns left and right of the outer lanes
# groups whose label counts their events: while played, the count is of those seen so far
COUNTED = ("threads", "mount", "setns", "frame", "file", "cgroup", "exit", "close")


def lane_xs(width: int, lanes: int) -> list[int]:
    """The column of each lane's lifeline, spread evenly across `width`."""
    span = max(lanes - 1, 1)
    return [MARGIN + round(i * (width - 1 - 2 * MARGIN) / span) for i in range(lanes)]


def arrow_label(diagram: SequenceDiagram, arrow: Arrow, time_ns: int) -> str:
    """Its label as far as it has been played: a group counts only the events seen so far."""
    seen = arrow.seen_by(time_ns)
    if arrow.kind in COUNTED and 0 < seen < arrow.count:
        return label(arrow.kind, arrow.events[:seen], diagram.names)
    return arrow.label


@dataclass(frozen=True)
class Look:
    """The styles a drawing uses (the widget's component styles, once per theme)."""

    base: Style
    life: Style
    arrow: Style
    label: Style
    note: Style
    step: Style
    current: Style
    selected: Style


def _row(width: int, xs: list[int], look: Look) -> tuple[list[str], list[Style]]:
    chars = [" "] * width
    styles = [look.base] * width
    for x in xs:
        if 0 <= x < width:
            chars[x], styles[x] = "│", look.life
    return chars, styles


def _put(chars: list[str], styles: list[Style], at: int, text: str, style: Style) -> None:
    for i, c in enumerate(text):
        if 0 <= at + i < len(chars):
            chars[at + i], styles[at + i] = c, style


def _strip(chars: list[str], styles: list[Style], over: Style | None = None) -> Strip:
    segments = [Segment(c, s + over if over else s) for c, s in zip(chars, styles, strict=True)]
    return Strip(Segment.simplify(segments))


def arrow_strip(
    diagram: SequenceDiagram,
    i: int,
    time_ns: int,
    xs: list[int],
    width: int,
    look: Look,
    over: Style | None = None,
) -> Strip:
    """One arrow on the lifelines, its label beside it where there is room."""
    a = diagram.arrows[i]
    chars, styles = _row(width, xs, look)
    x1, x2 = xs[diagram.lanes.index(a.src)], xs[diagram.lanes.index(a.dst)]
    text = arrow_label(diagram, a, time_ns)
    if a.note or x1 == x2:
        mark = "┊" if a.note else "↺"
        _put(chars, styles, x1, mark, look.note if a.note else look.arrow)
        lo = hi = x1
    else:
        lo, hi = min(x1, x2), max(x1, x2)
        _put(chars, styles, lo, "─" * (hi - lo + 1), look.arrow)
        _put(chars, styles, x1, "├" if x2 > x1 else "┤", look.arrow)
        _put(chars, styles, x2, "▶" if x2 > x1 else "◀", look.arrow)
    right, left = width - hi - 2, lo - 2
    style = look.note if a.note else look.label
    # right of the arrow if it fits there, else left if it fits there, else the roomier side
    if len(text) <= right or (len(text) > left and right >= left):
        _put(chars, styles, hi + 2, _fit(text, right), style)
    else:
        shown = _fit(text, left)
        _put(chars, styles, lo - 1 - len(shown), shown, style)
    return _strip(chars, styles, over)


def _fit(text: str, room: int) -> str:
    if room <= 0:
        return ""
    return text if len(text) <= room else text[: max(room - 1, 0)] + "…"


@dataclass(frozen=True)
class Row:
    """A line of the diagram: an arrow (its index) or a step's heading (its number)."""

    arrow: int | None = None
    step: int | None = None


def rows_of(diagram: SequenceDiagram) -> list[Row]:
    """Arrows in order, with a heading where the run enters a new step."""
    rows: list[Row] = []
    shown = 0
    for i, a in enumerate(diagram.arrows):
        if a.phase is not None and a.phase > shown:
            shown = a.phase
            rows.append(Row(step=shown))
        rows.append(Row(arrow=i))
    return rows


class SequenceHeader(Widget):
    """The lanes' titles over their lifelines."""

    DEFAULT_CSS = "SequenceHeader { height: 1; text-style: bold; }"

    def __init__(self, lanes: tuple[str, ...]) -> None:
        super().__init__()
        self.lanes = lanes

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        style = self.rich_style
        # the lifelines' columns are those of the rows under it (a scrollbar takes one)
        rows = self.parent.query(SequenceRows) if self.parent is not None else None
        inner = rows.first().scrollable_content_region.width if rows else 0
        xs = lane_xs(inner or width, len(self.lanes))
        gap = min(b - a for a, b in itertools.pairwise(xs)) - 1 if len(xs) > 1 else width
        chars = [" "] * width
        for lane, x in zip(self.lanes, xs, strict=True):
            title = lane_title(lane, max(gap, 3))  # type: ignore[arg-type]
            at = max(0, min(x - len(title) // 2, width - len(title)))
            chars[at : at + len(title)] = title
        return Strip([Segment("".join(chars[:width]), style)])


class SequenceView(Vertical):
    """The sequence diagram of the trace, played: arrows appear as the playhead crosses them,
    the current one lit; a click (or up/down) selects one and shows its events."""

    DEFAULT_CSS = """
    SequenceView { height: 1fr; border: round $primary 50%; border-title-color: $text; }
    SequenceView SequenceRows { height: 1fr; scrollbar-size-vertical: 1; }
    SequenceView .sequence-view--life { color: $text-disabled; }
    SequenceView .sequence-view--arrow { color: $accent; }
    SequenceView .sequence-view--label { color: $text; }
    SequenceView .sequence-view--note { color: $text-muted; text-style: italic; }
    SequenceView .sequence-view--step { color: $primary; text-style: bold; }
    SequenceView .sequence-view--current { background: $accent 40%; text-style: bold; }
    SequenceView .sequence-view--selected { background: $primary 40%; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "sequence-view--life",
        "sequence-view--arrow",
        "sequence-view--label",
        "sequence-view--note",
        "sequence-view--step",
        "sequence-view--current",
        "sequence-view--selected",
    }
    can_focus = True

    @dataclass
    class Selected(Message):
        """The user picked an arrow: show its events."""

        arrow: Arrow

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.diagram: SequenceDiagram | None = None
        self.time_ns = 0
        self.current: int | None = None  # the arrow of the playhead's event
        self.selected: int | None = None  # picked by the user (None: follow the playhead)
        self._rows: list[Row] = []
        self._drawn: object = None
        self._look: Look | None = None
        self._cache: dict[object, Strip] = {}  # arrow lines drawn, by what they show
        self._cache_look: Look | None = None
        self.border_title = "Sequence"

    def compose(self) -> ComposeResult:
        from tracer.chain.model import BOXES

        yield SequenceHeader(BOXES)
        yield SequenceRows(1)

    def show(self, diagram: SequenceDiagram, time_ns: int, position: int, event: object) -> None:
        """Draw the diagram up to the playhead (`position` < 0: before the first event)."""
        if diagram is not self.diagram:
            self.diagram = diagram
            self._rows = rows_of(diagram)
            self.selected = None
        self.time_ns = time_ns
        held = diagram.of_event(event) if event is not None else None  # type: ignore[arg-type]
        self.current = held if held is not None else diagram.index_at(time_ns)
        if position < 0:
            self.current = -1
        self._draw()

    def _draw(self) -> None:
        diagram = self.diagram
        if diagram is None or not self.is_mounted:
            return
        upto = self.current if self.current is not None else -1
        growing = diagram.arrows[upto].seen_by(self.time_ns) if upto >= 0 else 0
        key = (id(diagram), upto, self.selected, growing)
        if key == self._drawn:
            return
        self._drawn = key
        rows = self.query_one(SequenceRows)
        rows.set_block(0, self._lines)
        # the current (or picked) arrow stays in sight, a few rows of context under it
        at = self._row_of(self.selected if self.selected is not None else upto)
        if at is not None:
            # after the lines are laid out: before, the pane's height is not what it will be
            rows.call_after_refresh(self._keep_in_sight, at)

    def _keep_in_sight(self, at: int) -> None:
        rows = self.query_one(SequenceRows)
        height = rows.scrollable_content_region.height or 1
        if not rows.scroll_y <= at < rows.scroll_y + height - 1:
            rows.scroll_to(y=max(0, at - height + 3), animate=False, immediate=True, force=True)

    def _row_of(self, arrow: int | None) -> int | None:
        if arrow is None or arrow < 0:
            return None
        return next((n for n, r in enumerate(self._rows) if r.arrow == arrow), None)

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"sequence-view--{name}")

    def look(self, base: Style) -> Look:
        if self._look is None or self._look.base != base:
            on = {n: base + self._style(n) for n in ("life", "arrow", "label", "note", "step")}
            self._look = Look(
                base,
                on["life"],
                on["arrow"],
                on["label"],
                on["note"],
                on["step"],
                self._style("current"),
                self._style("selected"),
            )
        return self._look

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._look = None
        self._drawn = None
        self.call_later(self._draw)

    def _lines(self, width: int, base: Style) -> list[Strip]:
        diagram = self.diagram
        if diagram is None:
            return []
        look = self.look(base)
        xs = lane_xs(width, len(diagram.lanes))
        upto = self.current if self.current is not None else -1
        out: list[Strip] = []
        for row in self._rows:
            if row.arrow is not None and row.arrow > upto:
                break
            if row.step is not None:
                if row.step > 0 and upto < 0:
                    break
                chars, styles = _row(width, xs, look)
                _put(chars, styles, 1, _fit(f" {step_heading(row.step)} ", width - 2), look.step)
                out.append(_strip(chars, styles))
                continue
            assert row.arrow is not None
            over = None
            if row.arrow == self.selected and self.selected != upto:
                over = look.selected
            elif row.arrow == upto:
                over = look.current
            a = diagram.arrows[row.arrow]
            # a live run's every batch is a new diagram of mostly the same arrows: each line
            # is drawn once (a line is ~0.1 ms, a diagram 70 of them)
            key = (a.src, a.dst, a.note, arrow_label(diagram, a, self.time_ns), over, width)
            strip = self._cache.get(key)
            if strip is None or self._cache_look is not look:
                if self._cache_look is not look or len(self._cache) > 4000:
                    self._cache, self._cache_look = {}, look
                strip = self._cache[key] = arrow_strip(
                    diagram, row.arrow, self.time_ns, xs, width, look, over
                )
            out.append(strip)
        return out

    def pick(self, arrow: int | None) -> None:
        """Select an arrow (None: follow the playhead again) and say so."""
        diagram = self.diagram
        if diagram is None or not diagram.arrows:
            return
        if arrow is not None:
            arrow = max(0, min(arrow, max(self.current or 0, 0)))
        self.selected = arrow
        self._draw()
        if arrow is not None:
            self.post_message(self.Selected(diagram.arrows[arrow]))

    def key_up(self) -> None:
        start = self.selected if self.selected is not None else (self.current or 0)
        self.pick(start - 1)

    def key_down(self) -> None:
        start = self.selected if self.selected is not None else (self.current or 0)
        self.pick(start + 1)

    def key_escape(self) -> None:
        self.pick(None)

    def on_click(self, event: events.Click) -> None:
        rows = self.query_one(SequenceRows)
        y = event.y - 2  # the border and the lanes' titles
        if y >= 0:
            n = int(rows.scroll_y) + y
            if n < len(self._rows) and self._rows[n].arrow is not None:
                self.pick(self._rows[n].arrow)


class SequenceRows(RenderedLines):
    """The diagram's lines, scrolled to keep the current arrow in sight."""
