"""The run as a sequence diagram: lanes across, arrows down, drawn up to the playhead."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from tracer.chain.sequence import Arrow, SequenceDiagram
from tracer.text.pictures import lane_title, step_heading
from tracer.tui import perf
from tracer.tui.rendered_lines import RenderedLines
from tracer.tui.sequence_lines import (
    Look,
    Row,
    arrow_label,
    arrow_strip,
    fit,
    lane_xs,
    lifelines,
    put,
    rows_of,
    to_strip,
)


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
        self._width = 0  # of the lines being drawn
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
            if perf.laid_out(rows):
                # now, in the frame that draws the new arrow (a live batch's): scrolled after
                # that frame, the arrow came a frame later, with a whole pane drawn again
                self._keep_in_sight(at)
            # and after the lines are laid out: the pane's height may not be what it will be
            # (the view just shown, the presenter layout); nothing moves if it is
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
        self._width = width
        xs = lane_xs(width, len(diagram.lanes))
        upto = self.current if self.current is not None else -1
        out: list[Strip] = []
        for row in self._rows:
            if row.arrow is not None and row.arrow > upto:
                break
            if row.step is not None:
                if row.step > 0 and upto < 0:
                    break
                heading = ("step", row.step, width)
                out.append(self._cached(heading, look, self._heading, row.step, xs))
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
            out.append(self._cached(key, look, self._arrow, row.arrow, xs, over))
        return out

    def _cached(self, key: object, look: Look, draw: Callable[..., Strip], *args: Any) -> Strip:
        """A line drawn once for what it shows, at one width, in one look."""
        if self._cache_look is not look or len(self._cache) > 4000:
            self._cache, self._cache_look = {}, look
        strip = self._cache.get(key)
        if strip is None:
            strip = self._cache[key] = draw(*args)
        return strip

    def _heading(self, step: int, xs: list[int]) -> Strip:
        look, width = self._cache_look, self._width
        assert look is not None
        chars, styles = lifelines(width, xs, look)
        put(chars, styles, 1, fit(f" {step_heading(step)} ", width - 2), look.step)
        return to_strip(chars, styles)

    def _arrow(self, i: int, xs: list[int], over: Style | None) -> Strip:
        assert self.diagram is not None and self._cache_look is not None
        return arrow_strip(self.diagram, i, self.time_ns, xs, self._width, self._cache_look, over)

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
